"""Optimising a policy against a reward with a KL leash: the closed form, PPO-clip, best-of-n, DPO.

Everything here works on a *finite* set of responses per prompt, so a policy is a categorical
distribution: an array ``pi`` of shape ``(K,)`` or ``(prompts, K)`` whose rows sum to one. On
such a set every quantity of RLHF is exact.

The objective (Ouyang et al. 2022, §3.5, eq. 2 without the pre-training term; Ziegler et al.
2019, §2) is, per prompt,

    J(π) = E_{y∼π}[r(y)] − β · KL(π ‖ π_ref),

and its maximiser is the reference policy tilted by the exponentiated reward (Rafailov et al.
2023, §4, eq. 4; Korbak et al. 2022):

    π*(y) = π_ref(y) · exp(r(y)/β) / Z,   Z = Σ_y π_ref(y) exp(r(y)/β),   J(π*) = β log Z.

PPO (Schulman et al. 2017, eq. 7) approaches π* by sampling; best-of-n reaches part of the
way without training; DPO (Rafailov et al. 2023, eq. 7) fits π* directly to preferences,
because π* makes the reward r(y) = β log(π*(y)/π_ref(y)) + β log Z.
"""

from __future__ import annotations

import numpy as np

from llmbook.decoding import log_softmax  # the one implementation; importable from here
from llmbook.preference import log_sigmoid, one_blas_thread, sigmoid

# Moved to llmbook.stats; the old names stay importable from here for one release.

# ----------------------------------------------------------------------------------------------
# Categorical distributions


def softmax(x, axis: int = -1) -> np.ndarray:
    return np.exp(log_softmax(x, axis))


def _dist(p, name: str) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    if np.any(p < 0) or not np.allclose(p.sum(axis=-1), 1.0, atol=1e-8):
        raise ValueError(f"{name} must be probabilities summing to 1 along the last axis")
    return p


def kl_divergence(p, q, axis: int = -1) -> np.ndarray:
    """KL(p ‖ q) = Σ p log(p/q) in nats, with 0·log 0 = 0 (infinite where q = 0 < p)."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)
    return np.sum(terms, axis=axis)


def entropy(p, axis: int = -1) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=axis)


# ----------------------------------------------------------------------------------------------
# The KL-regularised objective and its optimum


def kl_objective(pi, pi_ref, reward, beta: float) -> np.ndarray:
    """J(π) = E_π[r] − β·KL(π ‖ π_ref), per prompt."""
    pi = _dist(pi, "pi")
    return np.sum(pi * np.asarray(reward, dtype=float), axis=-1) - beta * kl_divergence(pi, pi_ref)


def optimal_policy(pi_ref, reward, beta: float) -> np.ndarray:
    """π* ∝ π_ref · exp(r/β): the maximiser of :func:`kl_objective` (computed in log space)."""
    if not beta > 0:
        raise ValueError(f"beta must be positive, got {beta!r}")
    pi_ref = _dist(pi_ref, "pi_ref")
    with np.errstate(divide="ignore"):
        return softmax(np.log(pi_ref) + np.asarray(reward, dtype=float) / beta)


def optimal_value(pi_ref, reward, beta: float) -> np.ndarray:
    """J(π*) = β·log Σ π_ref·exp(r/β), per prompt."""
    pi_ref = _dist(pi_ref, "pi_ref")
    with np.errstate(divide="ignore"):
        z = np.log(pi_ref) + np.asarray(reward, dtype=float) / beta
    m = np.max(z, axis=-1, keepdims=True)
    return beta * (np.squeeze(m, -1) + np.log(np.sum(np.exp(z - m), axis=-1)))


def frontier(pi_ref, reward, betas, true_reward=None) -> dict[str, np.ndarray]:
    """The optimum for each β: its KL from π_ref and expected ``reward`` (and ``true_reward``,
    when the optimised reward is a proxy), averaged over prompts."""
    rows: dict[str, list[float]] = {"beta": [], "kl": [], "reward": [], "true_reward": []}
    for beta in betas:
        pi = optimal_policy(pi_ref, reward, beta)
        rows["beta"].append(float(beta))
        rows["kl"].append(float(np.mean(kl_divergence(pi, pi_ref))))
        rows["reward"].append(float(np.mean(np.sum(pi * reward, axis=-1))))
        truth = reward if true_reward is None else true_reward
        rows["true_reward"].append(float(np.mean(np.sum(pi * truth, axis=-1))))
    return {key: np.array(value) for key, value in rows.items()}


# ----------------------------------------------------------------------------------------------
# PPO-clip on a categorical policy


def ppo_surrogate_grad(logits, old_probs, counts, advantages, clip: float) -> np.ndarray:
    """Gradient with respect to ``logits`` of the clipped surrogate (Schulman et al. 2017, eq. 7)

        L = (1/N) Σ_samples min(ρ·A, clip(ρ, 1−ε, 1+ε)·A),   ρ = π(y)/π_old(y),

    for a categorical policy π = softmax(logits) per prompt. Samples of the same response share
    ρ and A, so the sum runs over responses weighted by ``counts`` (samples per response). The
    min picks the clipped branch, whose gradient is zero, when A > 0 and ρ > 1+ε or A < 0 and
    ρ < 1−ε; otherwise the gradient of ρ·A is ρ·A·(e_y − π).
    """
    logits = np.atleast_2d(logits)
    pi = softmax(logits)
    old = np.atleast_2d(old_probs)
    counts = np.atleast_2d(counts).astype(float)
    adv = np.atleast_2d(advantages)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(old > 0, pi / old, 0.0)
    clipped = ((adv > 0) & (ratio > 1 + clip)) | ((adv < 0) & (ratio < 1 - clip))
    weight = np.where(clipped, 0.0, counts * ratio * adv)  # per response: n·ρ·A
    n = counts.sum(axis=-1, keepdims=True)
    # Σ_y w_y (e_y − π) = w − π·Σ w, per prompt, divided by the samples of that prompt
    return (weight - pi * weight.sum(axis=-1, keepdims=True)) / n


def ppo_surrogate(logits, old_probs, counts, advantages, clip: float) -> np.ndarray:
    """The clipped surrogate L itself, per prompt (for gradient checks)."""
    pi = softmax(np.atleast_2d(logits))
    old = np.atleast_2d(old_probs)
    counts = np.atleast_2d(counts).astype(float)
    adv = np.atleast_2d(advantages)
    ratio = pi / old
    per = np.minimum(ratio * adv, np.clip(ratio, 1 - clip, 1 + clip) * adv)
    return np.sum(counts * per, axis=-1) / counts.sum(axis=-1)


def ppo(
    pi_ref,
    reward,
    beta: float,
    iterations: int = 300,
    batch: int = 512,
    epochs: int = 4,
    clip: float = 0.2,
    lr: float = 0.05,
    value_lr: float = 0.5,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """PPO-clip with a KL penalty in the reward, as InstructGPT trains its policy (§3.5).

    Per iteration and prompt: draw ``batch`` responses from the current policy π_old; each gets
    the penalised reward R = r(y) − β·log(π_old(y)/π_ref(y)); a critic (one value per prompt,
    the expected R) gives the advantage A = R − V; then ``epochs`` Adam steps of size ``lr`` on
    the clipped surrogate, and the critic moves a fraction ``value_lr`` toward the batch mean.
    At a fixed point E[A·∇log π] = 0, which holds exactly at π* ∝ π_ref·exp(r/β).

    Returns the final ``probs`` and a ``history`` of ``kl_to_optimum`` (KL(π* ‖ π)),
    ``reward`` (E_π r) and ``kl`` (KL(π ‖ π_ref)), averaged over prompts, per iteration.
    """
    pi_ref = np.atleast_2d(_dist(pi_ref, "pi_ref"))
    reward = np.broadcast_to(np.asarray(reward, dtype=float), pi_ref.shape)
    target = optimal_policy(pi_ref, reward, beta)
    rng = np.random.default_rng(seed)
    with np.errstate(divide="ignore"):
        log_ref = np.log(pi_ref)
    logits = np.where(np.isfinite(log_ref), log_ref, -1e9)  # start at the reference policy
    value = np.zeros(pi_ref.shape[0])
    m, v = np.zeros_like(logits), np.zeros_like(logits)  # Adam moments
    b1, b2, eps, t = 0.9, 0.999, 1e-8, 0
    history: dict[str, list[float]] = {"kl_to_optimum": [], "reward": [], "kl": []}
    for _ in range(iterations):
        old = softmax(logits)
        counts = np.stack([rng.multinomial(batch, row) for row in old])
        with np.errstate(divide="ignore", invalid="ignore"):
            penalised = reward - beta * np.where(old > 0, np.log(old) - log_ref, 0.0)
        adv = penalised - value[:, None]
        batch_mean = np.sum(counts * penalised, axis=-1) / batch
        for _ in range(epochs):
            grad = ppo_surrogate_grad(logits, old, counts, adv, clip)
            t += 1
            m = b1 * m + (1 - b1) * grad
            v = b2 * v + (1 - b2) * grad**2
            logits = logits + lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        value = value + value_lr * (batch_mean - value)
        pi = softmax(logits)
        history["kl_to_optimum"].append(float(np.mean(kl_divergence(target, pi))))
        history["reward"].append(float(np.mean(np.sum(pi * reward, axis=-1))))
        history["kl"].append(float(np.mean(kl_divergence(pi, pi_ref))))
    probs = softmax(logits)
    return {
        "probs": probs if np.ndim(reward) > 1 or probs.shape[0] > 1 else probs[0],
        "target": target,
        "history": {key: np.array(value) for key, value in history.items()},
    }


# ----------------------------------------------------------------------------------------------
# Best-of-n


def best_of_n_kl_bound(n) -> np.ndarray:
    """log n − (n−1)/n: the KL of best-of-n from the base policy when no two samples tie
    (a continuum of responses; Stiennon et al. 2020; Gao et al. 2022, §2). With a finite set of
    responses it is an upper bound (Beirami et al. 2024)."""
    n = np.asarray(n, dtype=float)
    return np.log(n) - (n - 1) / n


def best_of_n_policy(pi_ref, reward, n: int) -> np.ndarray:
    """Exact distribution of the highest-reward response among ``n`` draws from ``pi_ref``.

    With responses sorted by reward and F(r) = P(reward ≤ r), the best of n has reward
    ≤ r with probability F(r)^n, so a reward level gets F(r)^n − F(r⁻)^n, shared among the
    responses of that level in proportion to π_ref (ties among draws are broken at random).
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    pi_ref = _dist(pi_ref, "pi_ref")
    reward = np.broadcast_to(np.asarray(reward, dtype=float), pi_ref.shape)
    out = np.zeros_like(pi_ref)
    for idx in np.ndindex(pi_ref.shape[:-1]):
        p, r = pi_ref[idx], reward[idx]
        levels, inverse = np.unique(r, return_inverse=True)
        mass = np.bincount(inverse, p, levels.size)
        upper = np.minimum(np.cumsum(mass), 1.0)
        lower = upper - mass
        level_prob = upper**n - np.maximum(lower, 0.0) ** n
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(mass[inverse] > 0, p / mass[inverse], 0.0)
        out[idx] = level_prob[inverse] * share
    return out


def best_of_n_sample(pi_ref, reward, n: int, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Monte-Carlo best-of-n for one prompt: counts of the chosen response over ``samples``
    trials, each drawing ``n`` responses from ``pi_ref`` and keeping the first with the
    highest reward."""
    pi_ref = _dist(pi_ref, "pi_ref")
    draws = rng.choice(pi_ref.size, size=(samples, n), p=pi_ref)
    best = draws[np.arange(samples), np.argmax(np.asarray(reward)[draws], axis=1)]
    return np.bincount(best, minlength=pi_ref.size)


# ----------------------------------------------------------------------------------------------
# DPO


def implied_reward(pi, pi_ref, beta: float) -> np.ndarray:
    """β·log(π/π_ref), centred per prompt: the reward for which π is the KL-regularised optimum
    (defined up to the constant β log Z, which differences of rewards cancel)."""
    r = beta * (np.log(np.asarray(pi, dtype=float)) - np.log(np.asarray(pi_ref, dtype=float)))
    return r - r.mean(axis=-1, keepdims=True)


def dpo_loss(logits, log_ref, chosen, rejected, beta: float, prompt=None) -> float:
    """DPO's loss (Rafailov et al. 2023, eq. 7) for a categorical policy softmax(``logits``):

        −mean log σ(β·[log π(y_w)/π_ref(y_w) − log π(y_l)/π_ref(y_l)]),

    over pairs (``prompt``, ``chosen`` y_w, ``rejected`` y_l); ``prompt`` may be omitted for
    a single prompt."""
    lp = log_softmax(np.atleast_2d(logits))
    ref = np.atleast_2d(log_ref)
    p = np.zeros(len(chosen), dtype=int) if prompt is None else np.asarray(prompt)
    c, r = np.asarray(chosen), np.asarray(rejected)
    margin = beta * ((lp[p, c] - ref[p, c]) - (lp[p, r] - ref[p, r]))
    return float(-np.mean(log_sigmoid(margin)))


def dpo_grad(logits, log_ref, chosen, rejected, beta: float, prompt=None) -> np.ndarray:
    """Gradient of :func:`dpo_loss` with respect to ``logits``. The normalisation of the
    softmax cancels between the two responses of a pair, so each pair pushes the chosen logit
    up and the rejected one down by β·σ(−margin)/N."""
    logits2 = np.atleast_2d(logits)
    lp = log_softmax(logits2)
    ref = np.atleast_2d(log_ref)
    p = np.zeros(len(chosen), dtype=int) if prompt is None else np.asarray(prompt)
    c, r = np.asarray(chosen), np.asarray(rejected)
    margin = beta * ((lp[p, c] - ref[p, c]) - (lp[p, r] - ref[p, r]))
    weight = beta * sigmoid(-margin) / len(c)
    grad = np.zeros_like(logits2)
    np.add.at(grad, (p, c), -weight)
    np.add.at(grad, (p, r), weight)
    return grad.reshape(np.shape(logits))


def dpo_fit(
    pi_ref, chosen, rejected, beta: float, prompt=None, steps: int = 3000, lr: float = 0.1
) -> dict[str, np.ndarray]:
    """Minimise :func:`dpo_loss` by Adam from π = π_ref. Returns ``probs`` and ``loss`` per step.

    The loss depends on the policy only through β·log(π/π_ref), so it is the Bradley-Terry
    likelihood of the implied reward: DPO's optimum is π_ref·exp(r̂/β)/Z, with r̂ the
    Bradley-Terry fit of the same pairs.
    """
    pi_ref = np.atleast_2d(_dist(pi_ref, "pi_ref"))
    log_ref = np.log(pi_ref)
    logits = log_ref.copy()
    m, v = np.zeros_like(logits), np.zeros_like(logits)
    losses = []
    for t in range(1, steps + 1):
        grad = dpo_grad(logits, log_ref, chosen, rejected, beta, prompt)
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        logits = logits - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-12)
        losses.append(dpo_loss(logits, log_ref, chosen, rejected, beta, prompt))
    probs = softmax(logits)
    return {"probs": probs[0] if prompt is None else probs, "loss": np.array(losses)}


# ----------------------------------------------------------------------------------------------
# Scoring a finite set of responses with a real language model


def score_responses(model, prompt: str, responses: list[str]) -> dict[str, np.ndarray]:
    """Log-probability of each complete response to a chat ``prompt`` under ``model``
    (:class:`llmbook.smollm.Model`), and a feature vector per response.

    Each response is scored as the assistant turn followed by the end-of-turn token
    ``<|im_end|>``, so ``logprob`` is log π(y|x) of the whole turn, stop included: the
    probability the model would produce exactly this answer. The prompt and every response run
    in one packed forward pass (:func:`llmbook.scoring.pack`), each response attending to the
    prompt and to itself. ``features`` is the mean of the final-norm hidden
    states over the response's tokens (a reward-model head reads such a vector).
    Returns ``logprob`` (nats), ``tokens`` (response tokens incl. the stop) and ``features``.

    The matrices of a short continuation are small, so the BLAS runs on one thread here: two
    threads gain little on an idle machine and lose several times over on a busy one.
    """
    with one_blas_thread():
        return _score_responses(model, prompt, responses)


def score_table(model, responses) -> dict[str, np.ndarray]:
    """:func:`score_responses` for a table with columns ``prompt_id``, ``prompt`` and ``text``
    (the ``rlhf_responses`` data), prompt by prompt; arrays in the table's row order."""
    parts = []
    order = []
    for _, group in responses.groupby("prompt_id", sort=False):
        parts.append(score_responses(model, str(group["prompt"].iloc[0]), list(group["text"])))
        order.extend(group.index)
    position = np.argsort(np.array([responses.index.get_loc(i) for i in order]))
    return {key: np.concatenate([p[key] for p in parts])[position] for key in parts[0]}


def by_prompt(values, groups) -> np.ndarray:
    """Values of a flat table as a ``(prompts, responses)`` array, prompts in order of first
    appearance; every prompt must have the same number of responses."""
    v = np.asarray(values)
    g = np.asarray(groups)
    rows = [v[g == group] for group in dict.fromkeys(g.tolist())]
    if len({len(r) for r in rows}) != 1:
        raise ValueError("every prompt needs the same number of responses")
    return np.stack(rows)


def reference_policy(logprob, groups) -> np.ndarray:
    """π_ref over each group's finite set of responses: exp(log π(y|x)) renormalised within the
    group (the model's probability of each response, given that it answers with one of them)."""
    lp = np.asarray(logprob, dtype=float)
    g = np.asarray(groups)
    out = np.empty_like(lp)
    for group in dict.fromkeys(g.tolist()):
        items = g == group
        out[items] = softmax(lp[items])
    return out


def _score_responses(model, prompt: str, responses: list[str]) -> dict[str, np.ndarray]:
    # One packed forward pass (llmbook.scoring.pack): the prompt once, every response after it
    # attending to the prompt and to itself only, so the weights are read once per prompt
    # rather than once per response; then one output-head product for every scored position.
    from llmbook import scoring, smollm

    ids = model.encode(smollm.chat_prompt([{"role": "user", "content": prompt}]))
    end = model.weights.control_ids["<|im_end|>"]
    conts = [model.encode(text) + [end] for text in responses]
    tokens, positions, mask, layout = scoring.pack([scoring.Segment(ids, conts)])
    hidden = scoring.masked_hidden(model, tokens, positions, mask)
    prefix_last, spans = layout[0]
    rows = [np.concatenate([[prefix_last], span[:-1]]) for span in spans]
    lp = log_softmax(model.head(hidden[np.concatenate(rows)]).astype(np.float64))
    logprobs, features, start = [], [], 0
    for cont, span in zip(conts, spans, strict=True):
        logprobs.append(float(lp[np.arange(start, start + len(cont)), cont].sum()))
        start += len(cont)
        h = hidden[span]
        features.append(h[:-1].mean(axis=0) if len(cont) > 1 else h[0])
    return {
        "logprob": np.array(logprobs),
        "tokens": np.array([len(c) for c in conts]),
        "features": np.array(features, dtype=np.float64),
    }


# ----------------------------------------------------------------------------------------------
# Critic-free policy gradients: GRPO's group-relative advantage and RLOO's leave-one-out baseline


def grpo_advantages(rewards, eps: float = 1e-8) -> np.ndarray:
    """GRPO's outcome advantage (Shao et al. 2024, DeepSeekMath §4.1.2): each of the G rewards
    of a group (last axis: G samples of one prompt) minus the group mean, divided by the group
    standard deviation (population std, ``ddof=0``). A group whose rewards are all equal gets zero
    advantages (``eps`` keeps the division finite)."""
    r = np.asarray(rewards, dtype=float)
    if r.shape[-1] < 2:
        raise ValueError("a group needs at least two samples (G >= 2)")
    centred = r - r.mean(axis=-1, keepdims=True)
    return centred / (r.std(axis=-1, keepdims=True) + eps)


def rloo_advantages(rewards) -> np.ndarray:
    """RLOO's advantage (Kool et al. 2019; Ahmadian et al. 2024, §3.2): each sample's reward
    minus the mean reward of the *other* G−1 samples of its group, r_i − (Σ_j r_j − r_i)/(G−1),
    which equals G/(G−1)·(r_i − mean). The baseline does not depend on r_i, so the gradient
    estimate is unbiased."""
    r = np.asarray(rewards, dtype=float)
    g = r.shape[-1]
    if g < 2:
        raise ValueError("a group needs at least two samples (G >= 2)")
    return r - (r.sum(axis=-1, keepdims=True) - r) / (g - 1)


ADVANTAGES = {
    "reinforce": lambda r: np.asarray(r, dtype=float),  # no baseline at all
    "rloo": rloo_advantages,
    "grpo": grpo_advantages,
}


def group_gradient(logits, samples, advantages) -> np.ndarray:
    """Score-function gradient (1/G) Σ_i A_i ∇ log π(y_i) for a categorical policy
    softmax(``logits``) of one prompt, with ``samples`` the G drawn response indices."""
    pi = softmax(logits)
    samples = np.asarray(samples)
    adv = np.asarray(advantages, dtype=float)
    onehot = np.zeros((samples.size, pi.size))
    onehot[np.arange(samples.size), samples] = 1.0
    return (adv[:, None] * (onehot - pi)).mean(axis=0)


def gradient_variance(pi_ref, reward, group: int, method: str, draws: int, seed: int = 0):
    """Mean (over draws) and total variance (trace of the covariance) of the one-group gradient
    estimate of E_π[r] at π = ``pi_ref`` (one prompt), for ``method`` in :data:`ADVANTAGES`.
    The exact gradient is π·(r − E_π r); REINFORCE and RLOO are unbiased for it, GRPO's
    division by the group's standard deviation rescales it."""
    pi = _dist(pi_ref, "pi_ref")
    logits = np.log(pi)
    rng = np.random.default_rng(seed)
    r = np.asarray(reward, dtype=float)
    grads = np.empty((draws, pi.size))
    for k in range(draws):
        s = rng.choice(pi.size, size=group, p=pi)
        grads[k] = group_gradient(logits, s, ADVANTAGES[method](r[s]))
    return {
        "mean": grads.mean(axis=0),
        "exact": pi * (r - pi @ r),
        "variance": float(np.sum(grads.var(axis=0))),
    }


def critic_free(
    pi_ref,
    reward,
    beta: float,
    method: str = "grpo",
    group: int = 8,
    iterations: int = 2000,
    lr: float = 0.05,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Train a categorical policy (one prompt or a ``(prompts, K)`` array) by a critic-free
    policy gradient: per iteration and prompt draw ``group`` responses, give each the
    KL-penalised reward R = r(y) − β·log(π(y)/π_ref(y)) (the sequence-level penalty of
    Ziegler et al. 2019 and of RLOO; DeepSeekMath puts a KL term in the loss instead, whose
    maximiser is the same π*), turn the group's R into advantages by ``method`` ("grpo",
    "rloo" or "reinforce") and take an Adam step up :func:`group_gradient`. There is no value
    function. Returns ``probs``, ``target`` (π*) and ``history`` of ``kl_to_optimum``
    (KL(π* ‖ π)) and ``reward`` per iteration, averaged over prompts.

    RLOO's step is unbiased for the gradient of J(π) = E r − β KL, whose only stationary point
    is π*; GRPO divides by the group's spread, which reweights prompts and iterations but
    leaves the same point stationary in expectation only approximately (the std is itself
    random), so its fixed point sits near, not exactly at, π*.
    """
    pi_ref = np.atleast_2d(_dist(pi_ref, "pi_ref"))
    reward = np.broadcast_to(np.asarray(reward, dtype=float), pi_ref.shape)
    target = optimal_policy(pi_ref, reward, beta)
    advantage = ADVANTAGES[method]
    rng = np.random.default_rng(seed)
    log_ref = np.log(pi_ref)
    logits = log_ref.copy()
    m, v = np.zeros_like(logits), np.zeros_like(logits)
    history: dict[str, list[float]] = {"kl_to_optimum": [], "reward": []}
    for t in range(1, iterations + 1):
        pi = softmax(logits)
        grad = np.zeros_like(logits)
        for p in range(pi.shape[0]):
            s = rng.choice(pi.shape[1], size=group, p=pi[p])
            penalised = reward[p, s] - beta * (np.log(pi[p, s]) - log_ref[p, s])
            grad[p] = group_gradient(logits[p], s, advantage(penalised))
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        logits = logits + lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        pi = softmax(logits)
        history["kl_to_optimum"].append(float(np.mean(kl_divergence(target, pi))))
        history["reward"].append(float(np.mean(np.sum(pi * reward, axis=-1))))
    probs = softmax(logits)
    return {
        "probs": probs[0] if probs.shape[0] == 1 else probs,
        "target": target[0] if target.shape[0] == 1 else target,
        "history": {key: np.array(value) for key, value in history.items()},
    }


# ----------------------------------------------------------------------------------------------
# The offline preference family beside DPO: IPO, KTO, ORPO, SimPO
#
# Each takes per-pair summed log-probabilities of the chosen (w) and rejected (l) responses under
# the policy (and the reference where the method has one), as arrays, and returns the mean loss.


def ipo_loss(logp_w, logp_l, ref_w, ref_l, tau: float) -> float:
    """IPO (Azar et al. 2024, §5.1, eq. 17): the squared distance of the log-ratio margin
    h = log(π(y_w)/π_ref(y_w)) − log(π(y_l)/π_ref(y_l)) from 1/(2τ); a regression target where
    DPO's logistic loss keeps pushing the margin to infinity on deterministic preferences."""
    h = (np.asarray(logp_w) - np.asarray(ref_w)) - (np.asarray(logp_l) - np.asarray(ref_l))
    return float(np.mean((h - 1.0 / (2.0 * tau)) ** 2))


def kto_loss(
    logp, ref, desirable, beta: float, z_ref: float, lambda_d: float = 1.0, lambda_u: float = 1.0
) -> float:
    """KTO (Ethayarajh et al. 2024, §4, eq. 8) on *unpaired* examples, each marked desirable or
    not: with r = log(π(y)/π_ref(y)) and the reference point z_ref (the paper's batch estimate
    of KL(π ‖ π_ref), held constant in the gradient), the value is λ_D·σ(β(r − z_ref)) for a
    desirable example and λ_U·σ(β(z_ref − r)) for an undesirable one; the loss is λ_y − v."""
    r = np.asarray(logp, dtype=float) - np.asarray(ref, dtype=float)
    d = np.asarray(desirable, dtype=bool)
    value = np.where(
        d, lambda_d * sigmoid(beta * (r - z_ref)), lambda_u * sigmoid(beta * (z_ref - r))
    )
    lam = np.where(d, lambda_d, lambda_u)
    return float(np.mean(lam - value))


def orpo_loss(logp_w, logp_l, len_w, len_l, lam: float) -> float:
    """ORPO (Hong et al. 2024, §4, eqs. 6-7), no reference model: the SFT loss on the chosen
    response (mean token negative log-likelihood) plus λ times −log σ(log odds(y_w) − log
    odds(y_l)), with odds(y) = P/(1−P) of the length-normalised probability
    P = exp(log π(y)/|y|)."""
    lw = np.asarray(logp_w, dtype=float) / np.asarray(len_w, dtype=float)
    ll = np.asarray(logp_l, dtype=float) / np.asarray(len_l, dtype=float)
    log_odds_w = lw - np.log1p(-np.exp(lw))
    log_odds_l = ll - np.log1p(-np.exp(ll))
    return float(np.mean(-lw - lam * log_sigmoid(log_odds_w - log_odds_l)))


def simpo_loss(logp_w, logp_l, len_w, len_l, beta: float, gamma: float) -> float:
    """SimPO (Meng et al. 2024, §2, eq. 6), no reference model: −log σ(β/|y_w|·log π(y_w) −
    β/|y_l|·log π(y_l) − γ), the length-normalised log-likelihood as the implicit reward and a
    target margin γ."""
    margin = beta * (
        np.asarray(logp_w) / np.asarray(len_w) - np.asarray(logp_l) / np.asarray(len_l)
    )
    return float(-np.mean(log_sigmoid(margin - gamma)))


def pair_dpo_loss(logp_w, logp_l, ref_w, ref_l, beta: float) -> float:
    """DPO's loss (Rafailov et al. 2023, eq. 7) on per-pair log-probabilities, the same inputs as
    :func:`ipo_loss` (:func:`dpo_loss` is the same formula on a categorical policy's logits)."""
    h = (np.asarray(logp_w) - np.asarray(ref_w)) - (np.asarray(logp_l) - np.asarray(ref_l))
    return float(-np.mean(log_sigmoid(beta * h)))


PREFERENCE_LOSSES = {
    # method: (needs a frozen reference model, data it trains on, length-normalised)
    "DPO": (True, "pairs", False),
    "IPO": (True, "pairs", False),
    "KTO": (True, "single answers marked good or bad", False),
    "ORPO": (False, "pairs (SFT on the chosen one included)", True),
    "SimPO": (False, "pairs", True),
}


# ----------------------------------------------------------------------------------------------
# A verifiable reward: arithmetic checked by code, and intervals for what it measures


def addition_items(n: int, seed: int = 0, low: int = 10, high: int = 99) -> list[dict]:
    """``n`` questions "What is a + b?" with two-digit operands drawn uniformly in
    [``low``, ``high``] by a seeded generator, each with its answer a + b."""
    rng = np.random.default_rng(seed)
    a = rng.integers(low, high + 1, n)
    b = rng.integers(low, high + 1, n)
    return [
        {"question": f"What is {x} + {y}?", "a": int(x), "b": int(y), "answer": int(x + y)}
        for x, y in zip(a, b, strict=True)
    ]


def candidate_answers(item: dict) -> list[str]:
    """A finite answer set for an addition item: the sum and the near misses a small model
    makes (off by one, off by ten, a dropped carry), in a fixed order, no duplicates."""
    s, a, b = item["answer"], item["a"], item["b"]
    no_carry = (a // 10 + b // 10) * 10 + (a + b) % 10  # the units' carry forgotten
    values = [s, s - 1, s + 1, s - 10, s + 10, no_carry]
    return [str(v) for v in dict.fromkeys(v for v in values if v >= 0)]


def verify_sum(item: dict, response: str) -> float:
    """The verifiable reward: 1.0 if the response, stripped, is exactly the integer a + b,
    else 0.0 (DeepSeek-R1's accuracy reward checks a final answer by rule, §2.2.2)."""
    text = response.strip().rstrip(".")
    return 1.0 if text.lstrip("-").isdigit() and int(text) == item["answer"] else 0.0


def grpo_linear(
    ref_logprobs: list,
    features: list,
    rewards: list,
    beta: float,
    group: int = 8,
    steps: int = 150,
    lr: float = 0.01,
    seed: int = 0,
) -> np.ndarray:
    """GRPO on a policy shared across prompts: item i's finite answer set gets logits
    log π_ref + φ·w, with φ the answers' (standardised) feature vectors and w one weight vector
    for all items (a linear head on a frozen model, the cheapest stand-in for LoRA). Per step and
    item: draw ``group`` answers from the current policy, reward R = r − β log(π/π_ref), GRPO
    advantages (:func:`grpo_advantages`), and an Adam step on w up the mean of A·∇log π.
    ``ref_logprobs``, ``features`` (each ``(K_i, d)``) and ``rewards`` are lists over items.
    Returns w."""
    rng = np.random.default_rng(seed)
    w = np.zeros(np.asarray(features[0]).shape[1])
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t in range(1, steps + 1):
        grad = np.zeros_like(w)
        for lp, phi, r in zip(ref_logprobs, features, rewards, strict=True):
            pi = softmax(lp + phi @ w)
            s = rng.choice(pi.size, size=group, p=pi)
            penalised = r[s] - beta * (np.log(pi[s]) - log_softmax(lp)[s])
            grad += (grpo_advantages(penalised)[:, None] * (phi[s] - pi @ phi)).mean(axis=0)
        grad /= len(rewards)
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        w = w + lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return w
