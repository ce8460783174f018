"""The decision matrix: normalisation, missing-data policies, weights and their sensitivity."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmbook import catalog, decision
from llmbook.decision import Criterion

CRITS = (
    Criterion("quality", "Quality", "higher"),
    Criterion("cost", "Cost", "lower"),
    Criterion("size", "Size", "higher", log=True),
)


def matrix() -> pd.DataFrame:
    raw = pd.DataFrame(
        {"quality": [80.0, 60.0, math.nan], "cost": [30.0, 10.0, 20.0], "size": [1e9, 1e10, 1e11]},
        index=pd.Index(["A", "B", "C"], name="model"),
    )
    return decision.normalise(raw, CRITS)


def test_normalise_maps_best_to_one_and_worst_to_zero_in_the_stated_direction():
    n = matrix()
    assert n.loc["A", "quality"] == 1.0 and n.loc["B", "quality"] == 0.0
    assert math.isnan(n.loc["C", "quality"])
    assert n.loc["B", "cost"] == 1.0 and n.loc["A", "cost"] == 0.0 and n.loc["C", "cost"] == 0.5
    # log scale: 1e10 is half-way between 1e9 and 1e11
    assert n.loc["B", "size"] == pytest.approx(0.5)


def test_a_criterion_that_cannot_separate_gives_one_to_every_known_value():
    raw = pd.DataFrame({"quality": [5.0, math.nan], "cost": [1.0, 1.0], "size": [1e9, 1e9]})
    n = decision.normalise(raw.set_axis(["A", "B"]), CRITS)
    assert n.loc["A", "quality"] == 1.0 and math.isnan(n.loc["B", "quality"])
    assert (n["cost"] == 1.0).all()


def test_fixed_bounds_give_an_absolute_scale_clipped_to_the_unit_interval():
    raw = pd.DataFrame({"quality": [62.5, 10.0], "cost": [3.0, 1.0], "size": [1e9, 1e9]})
    crits = (Criterion("quality", "Q", "higher", bounds=(25.0, 100.0)), *CRITS[1:])
    n = decision.normalise(raw.set_axis(["A", "B"]), crits, bounds={"cost": (4.0, 0.0)})
    assert n.loc["A", "quality"] == pytest.approx(0.5)  # half-way from chance to perfect
    assert n.loc["B", "quality"] == 0.0  # below chance is clipped
    assert n.loc["A", "cost"] == pytest.approx(0.25) and n.loc["B", "cost"] == pytest.approx(0.75)


def test_scores_follow_each_missing_data_policy_by_hand():
    n = matrix()
    w = {"quality": 1.0, "cost": 1.0}
    worst = decision.scores(n, w, "worst")
    skip = decision.scores(n, w, "skip")
    mean = decision.scores(n, w, "mean")
    # C: quality missing, cost 0.5
    assert worst["C"] == pytest.approx((0.0 + 0.5) / 2)
    assert skip["C"] == pytest.approx(0.5)
    assert mean["C"] == pytest.approx((0.5 + 0.5) / 2)  # mean of A=1 and B=0 is 0.5
    # A and B have no gaps: every policy agrees
    for s in (worst, skip, mean):
        assert s["A"] == pytest.approx(0.5) and s["B"] == pytest.approx(0.5)


def test_bad_weights_and_policies_are_refused():
    n = matrix()
    with pytest.raises(ValueError, match="missing"):
        decision.scores(n, {"quality": 1}, "guess")
    with pytest.raises(KeyError, match="unknown"):
        decision.scores(n, {"speed": 1})
    with pytest.raises(ValueError, match="non-negative"):
        decision.scores(n, {"quality": -1, "cost": 2})


def test_all_weight_on_one_criterion_picks_its_best_candidate():
    n = matrix()
    assert decision.corner_winners(n, ["quality", "cost", "size"]) == {
        "quality": "A",
        "cost": "B",
        "size": "C",
    }


def test_switch_points_find_where_the_winner_changes():
    # Two candidates, two criteria: A wins quality, B wins cost; with weights (w, 1-w) on
    # (quality, cost) the scores are w and 1-w, so the winner switches at w = 0.5.
    raw = pd.DataFrame({"quality": [1.0, 0.0], "cost": [1.0, 0.0], "size": [1e9, 1e9]})
    n = decision.normalise(raw.set_axis(["A", "B"]), CRITS)
    table = decision.switch_points(n, {"quality": 0.7, "cost": 0.3}, steps=101)
    assert decision.winner(n, {"quality": 0.7, "cost": 0.3}) == "A"
    # At w = 0.5 the scores tie and the tie goes to the first name, A.
    assert table.loc["quality", "stable_from"] == pytest.approx(0.50)
    assert table.loc["quality", "stable_to"] == pytest.approx(1.0)
    assert "B → A" in table.loc["quality", "switches"]
    assert table.loc["cost", "stable_to"] == pytest.approx(0.50)


def test_random_weights_shares_sum_to_one_and_match_the_analytic_split():
    raw = pd.DataFrame({"quality": [1.0, 0.0], "cost": [1.0, 0.0], "size": [1e9, 1e9]})
    n = decision.normalise(raw.set_axis(["A", "B"]), CRITS)
    shares = decision.random_weights(n, ["quality", "cost"], 20_000, np.random.default_rng(0))
    assert shares.sum() == pytest.approx(1.0)
    # A wins when the quality weight exceeds 1/2: half of a flat Dirichlet on two criteria.
    assert shares["A"] == pytest.approx(0.5, abs=0.02)


@given(
    st.lists(st.floats(0, 1), min_size=3, max_size=3),
    st.lists(st.floats(0.01, 10), min_size=2, max_size=2),
)
def test_scores_stay_in_the_unit_interval(values, weights):
    raw = pd.DataFrame(
        {"quality": values, "cost": [3.0, 2.0, 1.0], "size": [1e9, 2e9, 4e9]},
        index=["A", "B", "C"],
    )
    n = decision.normalise(raw, CRITS)
    for policy in decision.MISSING_POLICIES:
        s = decision.scores(n, dict(zip(["quality", "cost"], weights, strict=True)), policy)
        assert ((s >= -1e-12) & (s <= 1 + 1e-12)).all()


def test_zh_share_reads_the_token_split_and_the_language_list():
    models = catalog.load("models")
    languages = catalog.load("pretraining_languages")
    share, basis = decision.zh_share("GLM-130B", models, languages)
    assert share == pytest.approx(0.5) and "token split" in basis  # 200B of 400B
    share, _ = decision.zh_share("moss-moon-003-base", models, languages)
    assert share == pytest.approx(100 / 120)  # 100B Chinese + 20B English further pre-training
    share, basis = decision.zh_share("LLaMA-65B", models, languages)
    assert math.isnan(share) and basis == "no split stated"  # unknown, not a false 0


def test_zh_share_unknown_stays_unknown_and_published_shares_are_read():
    models = catalog.load("models")
    languages = catalog.load("pretraining_languages")
    # Llama 3: over 5% of the data in 30+ languages, not split by language: missing, not 0.
    assert math.isnan(decision.zh_share("Meta-Llama-3-8B", models, languages)[0])
    # BLOOM's model card: Chinese (Simplified) 16.2% + Chinese (Traditional) 0.05%.
    share, basis = decision.zh_share("BLOOM-176B", models, languages)
    assert share == pytest.approx(0.1625) and "published share" in basis
    # A share row never becomes a false token split, and a model without rows whose only
    # language is Chinese still counts as Chinese only.
    assert decision.zh_share("CPM 2.6B", models, languages) == (1.0, "Chinese only")


def test_benchmark_score_prefers_the_named_reporter():
    scores = catalog.load("benchmark_scores")
    # Two reporters evaluated Llama-2-7B on C-Eval 5-shot and disagree.
    ds, who = decision.benchmark_score(
        "Llama-2-7B", scores, "C-Eval", 5, ["deepseekai2024deepseekllm"]
    )
    bc, who2 = decision.benchmark_score(
        "Llama-2-7B", scores, "C-Eval", 5, ["baichuan2023baichuan2"]
    )
    assert (who, who2) == ("deepseekai2024deepseekllm", "baichuan2023baichuan2")
    assert ds == 33.9 and bc == 28.9
    assert math.isnan(decision.benchmark_score("GPT-4", scores, "C-Eval", 5)[0])


def test_every_mapped_tokenizer_exists_and_every_mapped_model_is_in_the_catalog():
    from llmbook import tokenizers

    models = set(catalog.load("models")["model"])
    for model, name in decision.TOKENIZER_OF.items():
        assert model in models, model
        assert name in tokenizers.ASSETS, name


def test_only_counts_are_on_a_log_scale_and_every_absolute_scale_is_bounded():
    logs = {c.name for c in decision.CRITERIA if c.log}
    assert logs == {"params", "zh_tokens"}
    for c in decision.CRITERIA:
        assert c.better in ("higher", "lower"), c
        if c.bounds is not None:
            assert isinstance(c.bounds, tuple) and len(c.bounds) == 2, c


def test_the_vectorised_sweep_equals_scoring_each_weighting_one_by_one():
    n = matrix()
    weights = {"quality": 0.5, "cost": 0.3, "size": 0.2}
    shares = np.linspace(0, 1, 11)
    for policy in decision.MISSING_POLICIES:
        table = decision.vary_weight(n, weights, "cost", shares, policy)
        for share in shares:
            w = {"quality": (1 - share) * 0.5 / 0.7, "size": (1 - share) * 0.2 / 0.7}
            w["cost"] = share
            one = decision.scores(n, w, policy)
            assert np.allclose(table.loc[share, list(n.index)].to_numpy(float), one.to_numpy())
            assert table.loc[share, "winner"] == decision.winner(n, w, policy)


def test_rankable_keeps_candidates_with_enough_measured_criteria():
    norm = pd.DataFrame(
        {
            "zh_tokens_per_char": [0.5, np.nan, np.nan],
            "zh_tokens": [np.nan, np.nan, 0.2],
            "params": [0.1, 0.9, 0.5],
            "serve_share": [1.0, 1.0, 1.0],
            "licence": [0.5, 1.0, 0.75],
            "benchmark": [np.nan, np.nan, 0.4],
        },
        index=["A", "B", "C"],
    )
    assert decision.measured_counts(norm).to_dict() == {"A": 4, "B": 3, "C": 5}
    kept, short = decision.rankable(norm)
    assert list(kept.index) == ["A", "C"] and short == ["B"]
    # B has the best size and licence: ranked on what is known it would win a weighting that
    # ignores Chinese; with the rule it is not placed at all.
    assert decision.winner(norm, {"params": 1.0, "licence": 1.0}, "skip") == "B"
    assert decision.winner(kept, {"params": 1.0, "licence": 1.0}, "skip") == "C"
    assert list(decision.rankable(norm, minimum=5)[0].index) == ["C"]
    with pytest.raises(ValueError, match="minimum"):
        decision.rankable(norm, minimum=0)


def test_switch_points_ignore_leads_within_the_tie_margin():
    # C leads A and B by 0.0005 at an even split: a tie by the book's margin, not a winner.
    norm = pd.DataFrame({"x": [1.0, 0.0, 0.5005], "y": [0.0, 1.0, 0.5005]}, index=["A", "B", "C"])
    weights = {"x": 0.8, "y": 0.2}
    noisy = decision.switch_points(norm, weights, "worst", margin=0.0).loc["x", "switches"]
    assert "C" in noisy  # the exact winner at share 0.50 is C
    kept = decision.switch_points(norm, weights, "worst").loc["x", "switches"]
    assert "C" not in kept and "B → A" in kept
    assert decision.TIE_MARGIN == 1e-3
    # A lead larger than the margin is still a switch.
    clear = norm.assign(x=[1.0, 0.0, 0.52], y=[0.0, 1.0, 0.52])
    assert "C" in decision.switch_points(clear, weights, "worst").loc["x", "switches"]


def test_self_reported_scores_are_flagged_from_the_models_own_sources():
    models = catalog.load("models")
    # Qwen2's report scores Qwen2 (its own model) and Llama 3 (another team's).
    assert decision.self_reported("Qwen2-7B", "yang2024qwen2", models)
    assert not decision.self_reported("Meta-Llama-3-8B", "yang2024qwen2", models)
    assert not decision.self_reported("GLM-130B", "hkustnlp2023ceval", models)  # C-Eval's authors
    assert not decision.self_reported("GLM-130B", "", models)


def test_chinese_tokens_not_the_share_reward_chinese_data():
    """GLM-130B's 200B Chinese tokens are counted as such; a Chinese-only model whose training
    tokens are unpublished has an unknown count, not the best one (a share of 1 alone would
    have ranked it above every bilingual model)."""
    models, languages = catalog.load("models"), catalog.load("pretraining_languages")
    glm, basis = decision.zh_tokens("GLM-130B", models, languages)
    assert glm == pytest.approx(200e9) and basis.startswith("token split")
    assert decision.zh_share("Wenzhong2.0-GPT2-3.5B", models, languages)[0] == 1.0
    assert math.isnan(decision.zh_tokens("Wenzhong2.0-GPT2-3.5B", models, languages)[0])
    bloom, basis = decision.zh_tokens("BLOOM-176B", models, languages)
    share = decision.zh_share("BLOOM-176B", models, languages)[0]
    tokens = float(models.set_index("model").loc["BLOOM-176B", "train_tokens"])
    assert bloom == pytest.approx(share * tokens) and "training tokens" in basis


def test_tokenizer_bounds_are_worst_and_best_of_the_costs_given():
    assert decision.tokenizer_bounds({"a": 1.2, "b": 0.9, "c": 2.5}) == (2.5, 0.9)
    assert decision.tokenizer_bounds(pd.Series({"a": 1.2, "b": 0.9})) == (1.2, 0.9)
    with pytest.raises(ValueError, match="no tokenizer cost"):
        decision.tokenizer_bounds({})


def test_criteria_read_the_tokenizer_cost_of_each_models_tokenizer(root):
    data = root / "data"
    names = ("models", "architectures", "pretraining_languages", "licences", "benchmark_scores")
    frames = {n: catalog.load(n, data) for n in names}
    raw = decision.criteria(
        ["LLaMA-7B", "Llama-2-7B", "GLM-130B"], frames["models"], frames["architectures"],
        frames["pretraining_languages"], frames["licences"], frames["benchmark_scores"],
        pd.Series({"llama": 1.95, "qwen2": 0.96}),
    )  # fmt: skip
    assert raw.loc["LLaMA-7B", "zh_tokens_per_char"] == 1.95
    assert raw.loc["Llama-2-7B", "zh_tokens_per_char"] == 1.95  # the same 32k SentencePiece
    assert np.isnan(raw.loc["GLM-130B", "zh_tokens_per_char"])  # its tokenizer is not loadable


def test_leaders_are_the_candidates_within_the_tie_margin_of_the_best():
    ranked = pd.Series({"a": 0.4640, "b": 0.4632, "c": 0.4500})
    assert decision.leaders(ranked) == ["a", "b"]  # 0.0008 behind: a tie at 1e-3
    assert decision.leaders(ranked, margin=0.0005) == ["a"]
    assert decision.leaders(ranked, margin=0.02) == ["a", "b", "c"]
    assert decision.leaders(pd.Series(dtype=float)) == []
