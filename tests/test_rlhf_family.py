"""GRPO/RLOO advantages and fixed points, the DPO family's losses, the verifiable reward."""

import math

import numpy as np
import pytest

from llmbook import rlhf


def test_grpo_advantage_hand_computed():
    # mean 0.5, population std 0.5
    np.testing.assert_allclose(rlhf.grpo_advantages([0, 1, 0, 1]), [-1, 1, -1, 1], atol=1e-6)
    # a group that all agrees carries no signal
    np.testing.assert_allclose(rlhf.grpo_advantages([1, 1, 1]), [0, 0, 0])
    with pytest.raises(ValueError):
        rlhf.grpo_advantages([1.0])


def test_rloo_advantage_hand_computed():
    # 1 - mean(0,0,0) = 1; 0 - mean(1,0,0) = -1/3
    np.testing.assert_allclose(rlhf.rloo_advantages([1, 0, 0, 0]), [1, -1 / 3, -1 / 3, -1 / 3])
    r = np.array([0.2, 0.9, 0.4, 0.1, 0.7])
    np.testing.assert_allclose(rlhf.rloo_advantages(r), 5 / 4 * (r - r.mean()))


def test_group_gradients_unbiased_and_baselines_cut_variance():
    pi = np.array([0.5, 0.3, 0.2])
    r = np.array([1.0, 2.0, 0.0]) + 5.0  # an offset a baseline removes
    out = {m: rlhf.gradient_variance(pi, r, 4, m, 20000, seed=1) for m in ("reinforce", "rloo")}
    for m in ("reinforce", "rloo"):
        np.testing.assert_allclose(out[m]["mean"], out[m]["exact"], atol=0.03)
    assert out["rloo"]["variance"] < out["reinforce"]["variance"] / 5


@pytest.mark.parametrize("method", ["rloo", "grpo"])
def test_critic_free_reaches_closed_form_optimum(method):
    pi_ref = np.array([0.6, 0.3, 0.1])
    reward = np.array([0.0, 1.0, 2.0])
    beta = 0.5
    out = rlhf.critic_free(
        pi_ref, reward, beta, method=method, group=8, iterations=1500, lr=0.02, seed=0
    )
    target = rlhf.optimal_policy(pi_ref, reward, beta)
    np.testing.assert_allclose(out["target"], target)
    start = rlhf.kl_divergence(target, pi_ref)
    assert out["history"]["kl_to_optimum"][-100:].mean() < 0.05 * start
    np.testing.assert_allclose(out["probs"], target, atol=0.06)


def test_dpo_and_ipo_hand_computed():
    # log-ratio margin h = (-1 - -1.5) - (-2 - -1.5) = 1
    args = ([-1.0], [-2.0], [-1.5], [-1.5])
    assert rlhf.pair_dpo_loss(*args, beta=1.0) == pytest.approx(math.log1p(math.exp(-1.0)))
    assert rlhf.ipo_loss(*args, tau=0.5) == pytest.approx(0.0)  # h equals 1/(2 tau)
    assert rlhf.ipo_loss(*args, tau=1.0) == pytest.approx(0.25)  # (1 - 0.5)^2


def test_pair_dpo_matches_categorical_dpo():
    logits = np.log(np.array([0.5, 0.3, 0.2]))
    log_ref = np.log(np.array([0.2, 0.3, 0.5]))
    lp = rlhf.log_softmax(logits)
    expected = rlhf.dpo_loss(logits, log_ref, [0, 1], [2, 2], beta=0.7)
    got = rlhf.pair_dpo_loss(lp[[0, 1]], lp[[2, 2]], log_ref[[0, 1]], log_ref[[2, 2]], beta=0.7)
    assert got == pytest.approx(expected)


def test_kto_hand_computed():
    # desirable, r = 0.5, z = 0, beta = 1: 1 - sigmoid(0.5) = 0.377541
    assert rlhf.kto_loss([-1.0], [-1.5], [True], beta=1.0, z_ref=0.0) == pytest.approx(0.3775407)
    # undesirable with the same r: 1 - sigmoid(-0.5) = 0.622459
    assert rlhf.kto_loss([-1.0], [-1.5], [False], beta=1.0, z_ref=0.0) == pytest.approx(0.6224593)


def test_simpo_hand_computed():
    # beta*(−2/2 − (−6/3)) − gamma = 2*1 − 1 = 1;  −log σ(1) = 0.3132617
    assert rlhf.simpo_loss([-2.0], [-6.0], [2], [3], beta=2.0, gamma=1.0) == pytest.approx(
        0.3132617
    )


def test_orpo_hand_computed():
    # chosen: mean log p = −1, log odds = −1 − log(1 − e^−1) = −0.5413249
    # rejected: mean log p = −2, log odds = −2 − log(1 − e^−2) = −1.8545865
    # −log σ(1.3132616) = log(1 + 0.2689414) = 0.2381830; loss = 1 + 0.1 × that
    assert rlhf.orpo_loss([-2.0], [-6.0], [2], [3], lam=0.1) == pytest.approx(1.0238183, abs=1e-6)


def test_verifier_and_candidates():
    item = {"question": "What is 27 + 15?", "a": 27, "b": 15, "answer": 42}
    assert rlhf.verify_sum(item, " 42.") == 1.0
    assert rlhf.verify_sum(item, "41") == 0.0
    assert rlhf.verify_sum(item, "forty-two") == 0.0
    cands = rlhf.candidate_answers(item)
    assert cands[0] == "42" and "32" in cands  # 32: the dropped carry
    assert [rlhf.verify_sum(item, c) for c in cands].count(1.0) == 1
    items = rlhf.addition_items(5, seed=3)
    assert items == rlhf.addition_items(5, seed=3)
    assert all(i["a"] + i["b"] == i["answer"] for i in items)


def test_grpo_linear_learns_a_feature_that_marks_the_right_answer():
    rng = np.random.default_rng(0)
    lps, phis, rs = [], [], []
    for _ in range(12):
        k = 5
        r = np.zeros(k)
        r[rng.integers(k)] = 1.0
        phi = np.column_stack([r * 2 - 1, rng.normal(size=k)])  # feature 0 marks correctness
        lps.append(rng.normal(size=k))
        phis.append(phi)
        rs.append(r)
    w = rlhf.grpo_linear(lps, phis, rs, beta=0.01, steps=100, lr=0.05)
    assert w[0] > 1.0 and abs(w[1]) < w[0] / 2
    acc = np.mean([r[np.argmax(lp + phi @ w)] for lp, phi, r in zip(lps, phis, rs, strict=True)])
    assert acc == 1.0
