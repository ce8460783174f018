"""Elo, Bradley-Terry and position bias: hand-made cases and recovery of known strengths."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from llmbook import ratings


def test_expected_score_hand_values():
    assert ratings.expected_score(1000, 1000) == pytest.approx(0.5)
    assert ratings.expected_score(1400, 1000) == pytest.approx(10 / 11)  # 400 points: 10:1 odds
    assert ratings.ELO_PER_LOGIT == pytest.approx(400 / math.log(10))


def test_elo_one_battle_by_hand():
    r = ratings.elo_online(["x", "y"], ["x"], ["y"], [1.0], k=32)
    assert r["x"] == pytest.approx(1016) and r["y"] == pytest.approx(984)
    r = ratings.elo_online(["x", "y"], ["x"], ["y"], [0.5], k=32)
    assert r["x"] == pytest.approx(1000)


def test_bradley_terry_two_players_closed_form():
    # x beats y 3 times out of 4: the MLE is p = 3/4, a gap of 400 log10(3) Elo points.
    r = ratings.bradley_terry(["x", "y"], ["x"] * 4, ["y"] * 4, [1, 1, 1, 0])
    assert r["x"] - r["y"] == pytest.approx(400 * math.log10(3), abs=1e-6)
    assert r.mean() == pytest.approx(ratings.INITIAL_RATING)


def test_bradley_terry_is_a_stationary_point_of_the_likelihood():
    truth = pd.Series([1200.0, 1100.0, 1000.0, 900.0], index=list("abcd"))
    log = ratings.simulate_battles(truth, 2000, seed=3)
    s = (log["winner"] == "model_a").astype(float)
    fit = ratings.bradley_terry(list("abcd"), log["model_a"], log["model_b"], s)
    best = ratings.log_likelihood(fit, log["model_a"], log["model_b"], s)
    for name in "abcd":
        for step in (-1.0, 1.0):
            moved = fit.copy()
            moved[name] += step
            assert ratings.log_likelihood(moved, log["model_a"], log["model_b"], s) < best


def test_bradley_terry_recovers_known_strengths():
    truth = pd.Series(np.linspace(1300, 800, 8), index=[f"m{i}" for i in range(8)])
    log = ratings.simulate_battles(truth, 20_000, seed=0)
    s = (log["winner"] == "model_a").astype(float)
    fit = ratings.bradley_terry(list(truth.index), log["model_a"], log["model_b"], s)
    assert ratings.spearman(fit, truth) == pytest.approx(1.0)
    assert ratings.rmse_centred(fit, truth) < 15


def test_bradley_terry_refuses_an_undefeated_player():
    with pytest.raises(ValueError, match="won all or none"):
        ratings.bradley_terry(["x", "y"], ["x", "x"], ["y", "y"], [1, 1])


def test_bootstrap_interval_contains_the_estimate():
    truth = pd.Series([1100.0, 1000.0, 900.0], index=list("abc"))
    log = ratings.simulate_battles(truth, 600, seed=1)
    s = (log["winner"] == "model_a").astype(float)
    table = ratings.bootstrap(
        ratings.bradley_terry, list("abc"), log["model_a"], log["model_b"], s, n_resamples=50
    )
    assert (table["lower"] <= table["rating"]).all() and (table["rating"] <= table["upper"]).all()


def test_simulated_log_never_pairs_a_model_with_itself():
    log = ratings.simulate_battles(pd.Series([1.0, 2.0, 3.0], index=list("abc")), 500, seed=2)
    assert (log["model_a"] != log["model_b"]).all()


def test_spearman_and_rmse():
    assert ratings.spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert ratings.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert ratings.rmse_centred([1, 2, 3], [11, 12, 13]) == pytest.approx(0.0)


def test_position_bias_hand_case():
    stats = ratings.position_bias(["first", "first", "second", "first"],
                                  ["second", "first", "first", "first"])  # fmt: skip
    assert stats["consistent"] == 0.5
    assert stats["prefers_first"] == 0.5 and stats["prefers_second"] == 0.0
    assert stats["first_rate"] == pytest.approx(6 / 8)
    with pytest.raises(ValueError):
        ratings.position_bias(["left"], ["first"])


def test_judge_prompt_ends_at_the_verdict():
    text = ratings.judge_prompt("Q?", "x", "y")
    assert text.startswith("<|im_start|>user\nQuestion: Q?\nAnswer 1: x\nAnswer 2: y\n")
    assert text.endswith("<|im_end|>\n<|im_start|>assistant\n")


def test_swap_average_cancels_a_pure_position_bias():
    # A judge that adds 0.3 to whatever is shown first, around a true preference of 0.6 for X.
    got = ratings.swap_average([0.6 + 0.3], [0.4 + 0.3])
    assert got == pytest.approx([0.6])
