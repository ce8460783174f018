"""llmbook.decoding: filters on hand-made distributions, search procedures on a tiny fake model."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from llmbook import decoding as dec


def logits_of(probs) -> np.ndarray:
    return np.log(np.asarray(probs, dtype=np.float64))


def kept(z: np.ndarray) -> list[int]:
    return [int(i) for i in np.flatnonzero(np.isfinite(z))]


P = [0.5, 0.2, 0.15, 0.1, 0.05]  # a hand-made distribution, sorted


# -- filters ------------------------------------------------------------------------------------


def test_softmax_and_entropy_hand_computed():
    z = logits_of([0.25] * 4)
    np.testing.assert_allclose(dec.probabilities(z), 0.25)
    assert dec.entropy_nats(z) == pytest.approx(math.log(4))
    assert dec.entropy_nats(np.array([0.0, -np.inf, -np.inf])) == pytest.approx(0.0)


def test_temperature_sharpens_and_flattens():
    z = logits_of(P)
    assert dec.entropy_nats(dec.temperature(z, 0.5)) < dec.entropy_nats(z)
    assert dec.entropy_nats(dec.temperature(z, 2.0)) > dec.entropy_nats(z)
    # T = 0.5 squares the probabilities before renormalising
    sq = np.array(P) ** 2
    np.testing.assert_allclose(dec.probabilities(dec.temperature(z, 0.5)), sq / sq.sum())
    with pytest.raises(ValueError):
        dec.temperature(z, 0.0)


def test_top_k_keeps_k_and_ties():
    z = logits_of(P)
    assert kept(dec.top_k(z, 2)) == [0, 1]
    assert kept(dec.top_k(z, 10)) == [0, 1, 2, 3, 4]
    assert kept(dec.top_k(np.array([1.0, 2.0, 2.0, 0.0]), 1)) == [1, 2]  # tie with the k-th


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (0.5, [0]),
        (0.51, [0, 1]),
        (0.7, [0, 1]),
        (0.71, [0, 1, 2]),
        (0.85, [0, 1, 2]),
        (1.0, [0, 1, 2, 3, 4]),
    ],
)
def test_top_p_minimal_set_with_mass_at_least_p(p, expected):
    # cumulative mass: 0.5, 0.7, 0.85, 0.95, 1.0
    assert kept(dec.top_p(logits_of(P), p)) == expected


def test_min_p_scales_with_top_probability():
    # threshold 0.3 * 0.5 = 0.15: keeps 0.5, 0.2, 0.15
    assert kept(dec.min_p(logits_of(P), 0.3)) == [0, 1, 2]
    # a confident distribution: threshold 0.1 * 0.9 = 0.09 keeps only the top token
    assert kept(dec.min_p(logits_of([0.9, 0.05, 0.05]), 0.1)) == [0]
    # a flat one keeps everything at the same p_base
    assert kept(dec.min_p(logits_of([0.25] * 4), 0.1)) == [0, 1, 2, 3]


def test_typical_ranks_by_distance_from_entropy():
    probs = np.array(P)
    h = -(probs * np.log(probs)).sum()
    distance = np.abs(-np.log(probs) - h)
    order = np.argsort(distance)
    # the most typical token alone, then the smallest typical prefix reaching the mass
    first = int(order[0])
    assert kept(dec.typical(logits_of(P), probs[first] * 0.99)) == [first]
    cum = np.cumsum(probs[order])
    mass = (cum[1] + cum[2]) / 2  # needs three tokens
    assert kept(dec.typical(logits_of(P), mass)) == sorted(int(i) for i in order[:3])
    # a uniform distribution: every token is exactly typical
    assert kept(dec.typical(logits_of([0.25] * 4), 0.9)) == [0, 1, 2, 3]


def test_typical_can_drop_the_most_probable_token():
    # one dominant token carries far less information than the entropy of this distribution
    probs = [0.4] + [0.6 / 30] * 30
    z = dec.typical(logits_of(probs), 0.51)
    assert not np.isfinite(z[0])
    assert len(kept(z)) == 26  # 25 * 0.02 = 0.50 < 0.51 <= 26 * 0.02


def test_repetition_penalty_divides_positive_multiplies_negative():
    z = np.array([2.0, -1.0, 0.5, 3.0])
    out = dec.repetition_penalty(z, [0, 1, 1], 2.0)  # token 1 seen twice: penalised once
    np.testing.assert_allclose(out, [1.0, -2.0, 0.5, 3.0])
    np.testing.assert_allclose(dec.repetition_penalty(z, [], 2.0), z)


def test_frequency_and_presence_penalties():
    z = np.zeros(4)
    out = dec.frequency_presence_penalty(z, [1, 1, 1, 2], frequency=0.5, presence=1.0)
    np.testing.assert_allclose(out, [0.0, -2.5, -1.5, 0.0])


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.integers(2, 40), elements=st.floats(-20, 20)),
    st.floats(0.01, 1.0),
)
def test_filters_keep_the_argmax_and_a_subset(z, q):
    for out in (dec.top_p(z, q), dec.min_p(z, q), dec.top_k(z, max(1, int(q * z.size)))):
        assert np.isfinite(out[np.argmax(z)])
        np.testing.assert_array_equal(out[np.isfinite(out)], z[np.isfinite(out)])
    # top-p: the kept set has mass >= q, and dropping its least probable token falls below q
    probs = dec.probabilities(z)
    keep = np.isfinite(dec.top_p(z, q))
    assert probs[keep].sum() >= q - 1e-12
    if keep.sum() > 1 and len(np.unique(z)) == z.size:
        smallest = np.argmin(np.where(keep, probs, np.inf))
        assert probs[keep].sum() - probs[smallest] < q


def test_choose_inverse_cdf_matches_the_distribution():
    rng = np.random.default_rng(0)
    z = logits_of([0.6, 0.3, 0.1])
    draws = [dec.choose(z, dec.Settings(), rng) for _ in range(6000)]
    freq = np.bincount(draws, minlength=3) / len(draws)
    np.testing.assert_allclose(freq, [0.6, 0.3, 0.1], atol=0.025)
    assert dec.choose(z, dec.Settings(greedy=True), None) == 0
    with pytest.raises(ValueError):
        dec.choose(z, dec.Settings(), None)
    # filtered tokens are never drawn
    zf = dec.top_k(z, 1)
    assert {dec.choose(zf, dec.Settings(), rng) for _ in range(200)} == {0}


# -- a tiny model --------------------------------------------------------------------------------


class Bigram:
    """A fake language model: the next-token logits depend on the last token only (a table),
    and the hidden state of a position is a fixed vector per token."""

    def __init__(self, table: np.ndarray, embed: np.ndarray):
        self.table, self.embed = table, embed
        self.steps = 0  # batched step calls
        self.rows = 0  # sequences stepped

    def prefill(self, ids):
        ids = list(ids)
        return dec.State(ids, None, self.table[ids[-1]], self.embed[ids], len(ids))

    def fork(self, state):
        return replace(state, ids=list(state.ids))

    def step(self, states, tokens):
        self.steps += 1
        self.rows += len(states)
        for s, t in zip(states, tokens, strict=True):
            s.ids.append(int(t))
            s.logits = self.table[t]
            s.hiddens = np.concatenate([s.hiddens, self.embed[[t]]])
        return list(states)


def loop_model() -> Bigram:
    # tokens 0..3, stop token 4. From 0: "1" (0.6), else "2"; 1 -> 0 (greedy loops 0 1 0 1 ...)
    p = np.full((5, 5), 1e-3)
    p[0, [1, 2]] = [0.6, 0.39]
    p[1, [0, 3]] = [0.55, 0.44]
    p[2, [3, 4]] = [0.5, 0.49]
    p[3, [4, 0]] = [0.9, 0.09]
    p[4, 4] = 1.0
    p /= p.sum(axis=1, keepdims=True)
    embed = np.eye(5)
    return Bigram(np.log(p), embed)


def test_greedy_loops_and_sampling_is_reproducible():
    m = loop_model()
    (greedy,) = dec.sample(m, [0], 10, dec.Settings(greedy=True), stop_ids=frozenset({4}))
    assert greedy.tokens == [1, 0] * 5
    assert dec.loop_period(greedy.tokens) == (2, 10)
    assert dec.repetition_rate(greedy.tokens, 2) == pytest.approx(1 - 2 / 9)
    m.steps = 0
    a = dec.sample(m, [0], 8, dec.Settings(), n=5, seed=3, stop_ids=frozenset({4}))
    assert m.steps <= 7  # one batched call per new token, not one per sample
    b = dec.sample(m, [0], 8, dec.Settings(), n=3, seed=3, stop_ids=frozenset({4}))
    assert [r.tokens for r in a[:3]] == [r.tokens for r in b]  # a sample ignores n
    assert all(r.stopped or len(r.tokens) == 8 for r in a)


def test_repetition_penalty_breaks_the_greedy_loop():
    m = loop_model()
    s = dec.Settings(greedy=True, repetition_penalty=10.0)
    (r,) = dec.sample(m, [0], 10, s, stop_ids=frozenset({4}))
    assert r.tokens[:2] == [1, 3]  # 0 already seen, so 1 -> 3 wins
    assert r.stopped


def test_logprobs_and_entropy_recorded():
    m = loop_model()
    (r,) = dec.sample(m, [0], 3, dec.Settings(greedy=True))
    expected = [m.table[0, 1], m.table[1, 0], m.table[0, 1]]
    np.testing.assert_allclose(r.logprobs, expected)
    assert r.model_entropy[0] == pytest.approx(dec.entropy_nats(m.table[0]))


def brute_force_best(m: Bigram, prompt: int, length: int) -> tuple[list[int], float]:
    best, best_lp = None, -np.inf
    for seq in np.ndindex(*(5,) * length):
        lp, prev = 0.0, prompt
        for t in seq:
            lp += m.table[prev, t]
            prev = t
        if lp > best_lp:
            best, best_lp = list(seq), lp
    return best, best_lp


def test_beam_search_with_enough_beams_finds_the_most_probable_sequence():
    m = loop_model()
    length = 4
    best, best_lp = brute_force_best(m, 0, length)
    hyps = dec.beam_search(m, [0], length, beams=16, length_penalty=0.0)
    live = [h for h in hyps if not h.stopped]
    assert live[0].tokens == best
    assert live[0].sum_logprob == pytest.approx(best_lp)


def test_beam_search_length_penalty():
    m = loop_model()
    stop = frozenset({4})
    # length_penalty 0 ranks by total log p: "1 3 <stop>" (0.6 * 0.44 * 0.9 = 0.24) beats
    # "2 <stop>" (0.39 * 0.49 = 0.19) and anything longer; a large length penalty prefers longer
    # hypotheses.
    short = dec.beam_search(m, [0], 6, beams=3, length_penalty=0.0, stop_ids=stop)[0]
    assert short.tokens == [1, 3] and short.stopped
    assert short.sum_logprob == pytest.approx(m.table[0, 1] + m.table[1, 3] + m.table[3, 4])
    long = dec.beam_search(m, [0], 6, beams=3, length_penalty=3.0, stop_ids=stop)[0]
    assert len(long.tokens) > len(short.tokens)
    assert dec.length_normalised(-6.0, 3, 1.0) == pytest.approx(-2.0)


def test_contrastive_search_alpha_zero_is_greedy_and_penalises_repeats():
    m = loop_model()
    (g,) = dec.sample(m, [0], 6, dec.Settings(greedy=True))
    c0 = dec.contrastive_search(m, [0], 6, k=3, alpha=0.0)
    assert c0.tokens == g.tokens
    # with alpha, a candidate whose hidden state (one-hot) equals an earlier one scores -alpha;
    # from 0 both 1 and 2 are new at step one, so 1 wins; then 0 is a repeat and 3 is new.
    c = dec.contrastive_search(m, [0], 2, k=2, alpha=0.5)
    assert c.tokens == [1, 3]


def test_contrastive_formula_hand_computed():
    cand = np.array([[1.0, 0.0], [1.0, 1.0]])
    ctx = np.array([[2.0, 0.0], [0.0, 3.0]])
    pen = dec.degeneration_penalty(cand, ctx)
    np.testing.assert_allclose(pen, [1.0, 1 / math.sqrt(2)])
    np.testing.assert_allclose(
        dec.contrastive_scores(np.array([0.6, 0.4]), pen, 0.5), [0.3 - 0.5, 0.2 - 0.5 / 2**0.5]
    )


# -- measures ------------------------------------------------------------------------------------


def test_repetition_and_distinct_hand_computed():
    assert dec.repetition_rate([1, 2, 3, 4], 2) == 0.0
    assert dec.repetition_rate([1, 2, 1, 2, 1, 2], 2) == pytest.approx(1 - 2 / 5)
    assert dec.repetition_rate([1], 2) == 0.0
    # two sequences, bigrams (1,2),(2,3) and (1,2),(2,4): 3 distinct of 4
    assert dec.distinct_n([[1, 2, 3], [1, 2, 4]], 2) == pytest.approx(0.75)
    assert dec.loop_period([5, 1, 2, 3, 1, 2, 3]) == (3, 6)
    assert dec.loop_period([1, 2, 3]) == (0, 0)
    rep = dec.repeated_positions([1, 2, 1, 2, 1, 2], 2)
    assert rep.tolist() == [False, False, False, True, True, True]
    assert rep.sum() / 5 == pytest.approx(dec.repetition_rate([1, 2, 1, 2, 1, 2], 2))


# -- the real model: the batched step matches the model's own forward pass -----------------------


@pytest.fixture(scope="module")
def smol():
    from llmbook import smollm

    return dec.SmolLM(smollm.Model.load())


def test_batched_step_matches_sequential_forward(smol):
    prompts = [[1, 504, 3458, 282], [1, 504, 3458, 282, 1345]]
    states = [smol.prefill(p) for p in prompts]
    forked = [smol.fork(s) for s in states]
    stepped = smol.step(forked, [314, 2000])
    for p, t, s in zip(prompts, [314, 2000], stepped, strict=True):
        full = smol.model.logits([*p, t])[-1]
        np.testing.assert_allclose(s.logits, full, atol=2e-3, rtol=1e-3)
        assert s.ids == [*p, t] and s.hiddens.shape[0] == len(p) + 1
    # forking left the originals untouched
    assert [s.cache.length for s in states] == [4, 5]
    np.testing.assert_allclose(states[0].logits, smol.model.logits(prompts[0])[-1], atol=2e-3)


def test_residual_stream_ends_in_the_models_hidden_state(smol):
    ids = [1, 504, 3458, 282, 1345]
    stream = dec.residual_stream(smol.model, ids)
    cfg = smol.config
    assert stream.shape == (cfg.n_layer + 1, len(ids), cfg.d_model)
    from llmbook import smollm

    final = smollm.rms_norm(stream[-1], smol.model.weights.norm, cfg.rms_eps)
    np.testing.assert_allclose(final, smol.model.hidden(ids, smol.model.new_cache()), atol=1e-4)


def test_smollm_shape_counts_the_weights(smol):
    from llmbook.architecture import param_counts

    w = smol.model.weights
    assert param_counts(dec.smollm_shape(smol.config))["total"] == w.nbytes // 4  # float32


def test_sample_rows_mixes_strategies_in_one_batch():
    m = loop_model()
    root = m.prefill([0])
    greedy = dec.Settings(greedy=True)
    hot = dec.Settings(temperature=2.0)
    mixed = dec.sample_rows(m, [dec.Row(root, greedy), dec.Row(root, hot, 7)], 6)
    alone = dec.sample_rows(m, [dec.Row(root, hot, 7)], 6)
    assert mixed[0].tokens == [1, 0, 1, 0, 1, 0]
    assert mixed[1].tokens == alone[0].tokens
    assert root.ids == [0]  # the root is forked, never consumed


def test_roofline_hand_computed():
    # 1e9 parameters in 2e9 bytes, 1e5 bytes of KV per token, 1000 tokens of context:
    # batch 1 reads 2.1e9 bytes per step; at 1e12 B/s that is 476 tokens/s.
    r = dec.roofline_tokens_per_s(1e9, 2e9, 1e5, 1000, 1, 1e12, 1e14)
    assert r["memory"] == pytest.approx(1e12 / 2.1e9)
    assert r["compute"] == pytest.approx(1e14 / 2e9)
    assert r["bound"] == r["memory"]
    # a large batch hits the arithmetic limit (5e4 tokens/s)
    big = dec.roofline_tokens_per_s(1e9, 2e9, 0.0, 1000, 1000, 1e12, 1e14)
    assert big["bound"] == pytest.approx(5e4)
    assert dec.bytes_per_decode_step(2e9, 1e5, 1000, 4) == pytest.approx(2.4e9)


@settings(max_examples=80, deadline=None)
@given(arrays(np.float64, st.integers(1, 60), elements=st.sampled_from([-1.0, 0.0, 0.5, 2.0, 3.0])),
       st.integers(1, 70))  # fmt: skip
def test_top_indices_equals_a_stable_full_sort(z, m):
    np.testing.assert_array_equal(dec.top_indices(z, m), np.argsort(-z, kind="stable")[:m])


def test_top_p_partial_sort_matches_full_sort(monkeypatch):
    z = np.random.default_rng(1).standard_normal(5000) * 3
    for p in (0.3, 0.9, 0.999):
        fast = dec.top_p(z, p)
        monkeypatch.setattr(dec, "TOP_P_CANDIDATES", 10**9)
        np.testing.assert_array_equal(np.isfinite(fast), np.isfinite(dec.top_p(z, p)))
        monkeypatch.setattr(dec, "TOP_P_CANDIDATES", 16)
        np.testing.assert_array_equal(np.isfinite(fast), np.isfinite(dec.top_p(z, p)))
        monkeypatch.undo()


def test_searches_run_together_give_the_same_results():
    m = loop_model()
    stop = frozenset({4})
    roots = [m.prefill([0]), m.prefill([2])]
    alone = [dec.beam_search(m, [], 5, 3, 1.0, stop, r) for r in roots]
    alone_cs = [dec.contrastive_search(m, [], 5, 2, 0.5, stop, r) for r in roots]
    m.steps = 0
    together = dec.run_together(
        m,
        [dec.beam_steps(m, r, 5, 3, 1.0, stop) for r in roots]
        + [dec.contrastive_steps(m, r, 5, 2, 0.5, stop) for r in roots],
    )
    assert [[h.tokens for h in hs] for hs in together[:2]] == [
        [h.tokens for h in hs] for hs in alone
    ]
    assert [r.tokens for r in together[2:]] == [r.tokens for r in alone_cs]
    assert m.steps <= 5  # one batched call per step for all four searches


def test_sample_rows_stops_a_row_once_until_holds():
    # Greedy from 0 writes 1 0 1 0 ...; "until" the sequence 1 0 1 stops that row after three
    # tokens (the completing token kept), while a row without the pattern runs to max_tokens.
    m = loop_model()
    root = m.prefill([0])
    greedy = dec.Settings(greedy=True)
    (full,) = dec.sample_rows(m, [dec.Row(root, greedy)], 6)
    (cut,) = dec.sample_rows(m, [dec.Row(root, greedy)], 6, until=lambda t: t[-3:] == [1, 0, 1])
    assert full.tokens == [1, 0, 1, 0, 1, 0] and not full.stopped
    assert cut.tokens == [1, 0, 1] and cut.stopped
    m.rows = 0
    never = dec.sample_rows(m, [dec.Row(root, greedy)], 6, until=lambda t: 3 in t)
    assert never[0].tokens == full.tokens and m.rows == 5


def test_extend_a_shared_prompt_equals_prefilling_the_whole(smol):
    root = smol.prefill([1, 504, 3458])
    grown = smol.extend(root, [282, 1345])
    whole = smol.prefill([1, 504, 3458, 282, 1345])
    np.testing.assert_allclose(grown.logits, whole.logits, atol=2e-3, rtol=1e-3)
    assert grown.ids == whole.ids and grown.prompt_length == 5 and grown.hiddens.shape[0] == 5
    assert root.cache.length == 3 and root.ids == [1, 504, 3458]  # the root is not consumed


def test_batched_attention_equal_and_ragged_lengths_match_single_row_attention():
    from llmbook import smollm

    rng = np.random.default_rng(0)
    n_head, n_kv, hd = 6, 2, 8
    lengths = [5, 5, 7]
    keys = [
        (rng.standard_normal((n_kv, n, hd), dtype=np.float32),
         rng.standard_normal((n_kv, n, hd), dtype=np.float32))
        for n in lengths
    ]  # fmt: skip
    q = rng.standard_normal((3, n_head, hd), dtype=np.float32)
    equal = dec.batched_attention(q[:2], keys[:2], np.array(lengths[:2]))  # no padding
    ragged = dec.batched_attention(q, keys, np.array(lengths))  # padded to 7
    for b, (k, v) in enumerate(keys):
        one = smollm.attention(q[b][None], k, v, start=lengths[b] - 1)[0]
        np.testing.assert_allclose(ragged[b], one, rtol=1e-6, atol=1e-6)
        if b < 2:
            np.testing.assert_allclose(equal[b], one, rtol=1e-6, atol=1e-6)
    # Eight rows of two lengths: each length stacked on its own, the same result as one by one.
    grouped = dec.batched_attention(
        np.concatenate([q, q, q[:2]]), keys * 2 + keys[:2], np.array(lengths * 2 + lengths[:2])
    )
    for b, (k, v) in enumerate(keys * 2 + keys[:2]):
        one = smollm.attention(q[b % 3][None], k, v, start=k.shape[1] - 1)[0]
        np.testing.assert_allclose(grouped[b], one, rtol=1e-6, atol=1e-6)


def test_changes_logits_says_whether_process_changes_them():
    z = np.random.default_rng(1).standard_normal(50)
    S = dec.Settings
    assert not S().changes_logits and not S(greedy=True).changes_logits
    np.testing.assert_array_equal(dec.process(z, S(), [1, 2]), z)
    changing = [
        S(temperature=0.7),
        S(top_k=5),
        S(top_p=0.5),
        S(min_p=0.2),
        S(typical=0.5),
        S(repetition_penalty=1.3),
        S(frequency_penalty=0.5),
        S(presence_penalty=0.5),
    ]
    for s in changing:
        assert s.changes_logits, s
        assert not np.array_equal(dec.process(z, s, [1, 2]), z), s


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_softmax_leaves_its_input_alone_and_keeps_the_textbook_values(dtype):
    """It shifts a copy in place: the caller's logits (float64 ones included, which a
    no-copy conversion would hand over) are untouched, masked tokens stay at -inf, and every
    value is bit for bit ``z - max - log sum exp(z - max)`` along either axis."""
    rng = np.random.default_rng(3)
    z = (rng.normal(size=(5, 40)) * 4).astype(dtype)
    z[1, :7] = -np.inf
    before = z.copy()
    for axis in (-1, 0):
        for kind in (np.float64, None):
            got = dec.log_softmax(z, axis=axis, dtype=kind)
            want = np.asarray(z, dtype=kind)
            m = want.max(axis=axis, keepdims=True)
            want = want - m - np.log(np.sum(np.exp(want - m), axis=axis, keepdims=True))
            assert got.dtype == want.dtype == (kind or dtype)
            assert np.array_equal(got, want)
    assert np.array_equal(z, before)
    assert np.isneginf(dec.log_softmax(z)[1, :7]).all()
