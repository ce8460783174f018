"""Decoding: turning next-token logits into text, framework-free.

Three layers, each usable on its own:

1. **Pure functions on logits** (numpy, one vector of ``vocab`` scores): temperature, top-k,
   top-p (nucleus), typical, min-p filters, and the repetition, frequency and presence
   penalties. Filters return logits with the removed tokens set to ``-inf``; a filter never
   removes the most probable token, so some token always survives. Each follows a named
   paper and, where the paper leaves a choice open (ties, the token that crosses a threshold),
   the Hugging Face ``transformers`` implementation (``generation/logits_process.py``, read at
   commit 00857b6c): the docstrings say which.
2. **Search procedures** that need the model: :func:`sample` (greedy or stochastic, several
   samples of one prompt decoded as one batch), :func:`beam_search` and
   :func:`contrastive_search`. They see the model only through the small :class:`Stepper`
   interface (prefill a prompt, step a batch of states by one token each, fork a state), so the
   tests drive them with a tiny hand-made model.
3. **Measures of the text**: n-gram repetition, distinct-n, per-token entropy.

:class:`SmolLM` adapts :class:`llmbook.smollm.Model` to :class:`Stepper`, with a batched
one-token step (one matrix product per weight for the whole batch) and KV caches that can be
copied, so a prompt is prefilled once and every sample or beam continues from a copy.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

NEG_INF = -np.inf

# ----------------------------------------------------------------------------------------------
# 1. Distributions and filters on logits


def log_softmax(logits, axis: int = -1, dtype=np.float64) -> np.ndarray:
    """``log p_i = z_i - log sum_j exp z_j`` along ``axis``, after subtracting the maximum
    (``-inf`` stays). In ``dtype``, float64 unless told otherwise; ``dtype=None`` keeps the
    input's (float32 in training, where the vocabulary-wide products dominate). The one
    implementation the library's scoring, decoding, RLHF and training code all use."""
    z = np.array(logits, dtype=dtype)  # a copy, shifted in place: two passes fewer, same bits
    z -= np.max(z, axis=axis, keepdims=True)
    z -= np.log(np.sum(np.exp(z), axis=axis, keepdims=True))
    return z


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Softmax of ``logits`` in float64; tokens at ``-inf`` get probability 0."""
    return np.exp(log_softmax(logits))


def entropy_nats(logits: np.ndarray) -> float | np.ndarray:
    """Shannon entropy ``H = -sum p log p`` (nats) of the softmax of ``logits`` (last axis)."""
    return _entropy_of(log_softmax(logits))


def _entropy_of(logp: np.ndarray) -> float | np.ndarray:
    """Entropy (nats) of distributions given by their log-probabilities (last axis)."""
    p = np.exp(logp)
    return -np.sum(p * np.where(p > 0, logp, 0.0), axis=-1)


def temperature(logits: np.ndarray, t: float) -> np.ndarray:
    """``z / t``: below 1 sharpens the distribution, above 1 flattens it (t > 0)."""
    if not t > 0:
        raise ValueError(f"temperature must be > 0 (use greedy decoding for 0), got {t!r}")
    return np.asarray(logits, dtype=np.float64) / t


def _keep(logits: np.ndarray, keep: np.ndarray) -> np.ndarray:
    out = np.array(logits, dtype=np.float64)
    keep = keep.copy()
    keep[int(np.argmax(out))] = True  # the most probable token always survives
    out[~keep] = NEG_INF
    return out


def top_indices(z: np.ndarray, m: int) -> np.ndarray:
    """The indices of the ``m`` largest values of ``z``, largest first, ties in index order:
    ``np.argsort(-z, kind="stable")[:m]`` without sorting the whole vocabulary."""
    z = np.asarray(z)
    m = min(m, z.size)
    if m <= 0:
        return np.zeros(0, dtype=np.int64)
    kth = np.partition(z, z.size - m)[z.size - m]  # the m-th largest value
    above = np.flatnonzero(z > kth)
    ties = np.flatnonzero(z == kth)[: m - above.size]
    idx = np.concatenate([above, ties])
    return idx[np.lexsort((idx, -z[idx]))]


#: Top-p first sorts only this many of the most probable tokens, and sorts the whole vocabulary
#: only when they hold less than the mass ``p`` (an optimisation; the result is the same).
TOP_P_CANDIDATES = 4096


def top_k(logits: np.ndarray, k: int) -> np.ndarray:
    """Keep the ``k`` highest logits (Fan et al. 2018). As in transformers'
    ``TopKLogitsWarper``, tokens tied with the k-th logit are kept too."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k!r}")
    z = np.asarray(logits, dtype=np.float64)
    if k >= z.size:
        return z.copy()
    kth = np.partition(z, z.size - k)[z.size - k]
    return _keep(z, z >= kth)


def top_p(logits: np.ndarray, p: float) -> np.ndarray:
    """Nucleus filter (Holtzman et al. 2020): keep the smallest set of most probable
    tokens whose probability sums to at least ``p``.

    Written as transformers' ``TopPLogitsWarper`` does it: sort ascending, drop the tokens whose
    cumulative probability is ``<= 1 - p``. Sorting is stable, so ties are broken by token id.
    """
    if not 0 < p <= 1:
        raise ValueError(f"p must be in (0, 1], got {p!r}")
    z = np.asarray(logits, dtype=np.float64)
    all_probs = probabilities(z)
    order = top_indices(z, TOP_P_CANDIDATES)  # most probable first
    if order.size < z.size and all_probs[order].sum() < p:
        order = np.argsort(-z, kind="stable")
    probs = all_probs[order]
    before = np.concatenate([[0.0], np.cumsum(probs)[:-1]])  # mass of the tokens ranked above
    keep = np.zeros(z.size, dtype=bool)
    keep[order] = before < p  # a token is needed while the mass above it is still short of p
    return _keep(z, keep)


def typical(logits: np.ndarray, mass: float) -> np.ndarray:
    """Locally typical filter (Meister et al. 2023): rank tokens by
    ``|-log p_i - H|``, the distance of their information content from the entropy ``H`` of the
    distribution, and keep the smallest prefix of that ranking whose probability is >= ``mass``.

    Unlike top-p it may drop the most probable token when that token is far less informative
    than average; transformers' ``TypicalLogitsWarper`` then keeps the most *typical* token as
    its minimum. Here, as everywhere in this module, the most probable token is what survives
    if everything else is filtered; with ``mass`` in (0, 1) the kept set is never empty anyway.
    """
    if not 0 < mass <= 1:
        raise ValueError(f"mass must be in (0, 1], got {mass!r}")
    z = np.asarray(logits, dtype=np.float64)
    logp = log_softmax(z)
    p = np.exp(logp)
    h = float(entropy_nats(z))
    distance = np.where(p > 0, np.abs(-np.where(p > 0, logp, 0.0) - h), np.inf)
    order = np.argsort(distance, kind="stable")
    before = np.concatenate([[0.0], np.cumsum(p[order])[:-1]])
    keep = np.zeros(z.size, dtype=bool)
    keep[order] = before < mass
    out = np.array(z)
    out[~keep] = NEG_INF
    return out


def min_p(logits: np.ndarray, p_base: float) -> np.ndarray:
    """Min-p filter (Nguyen et al. 2024): keep tokens with ``p_i >= p_base * p_max``; the
    threshold scales with the probability of the most likely token (transformers'
    ``MinPLogitsWarper``)."""
    if not 0 <= p_base <= 1:
        raise ValueError(f"p_base must be in [0, 1], got {p_base!r}")
    probs = probabilities(logits)
    return _keep(logits, probs >= p_base * probs.max())


def repetition_penalty(logits: np.ndarray, previous: Sequence[int], penalty: float) -> np.ndarray:
    """CTRL's penalised sampling (Keskar et al. 2019) on every token id in ``previous``, once.

    CTRL divides the logit of a seen token by ``penalty`` (> 1 discourages). Dividing a
    negative logit would *raise* it, so, as transformers' ``RepetitionPenaltyLogitsProcessor``
    does, positive logits are divided and negative ones multiplied.
    """
    if not penalty > 0:
        raise ValueError(f"penalty must be > 0, got {penalty!r}")
    out = np.array(logits, dtype=np.float64)
    seen = np.unique(np.asarray(previous, dtype=np.int64))
    if seen.size:
        z = out[seen]
        out[seen] = np.where(z < 0, z * penalty, z / penalty)
    return out


def frequency_presence_penalty(
    logits: np.ndarray, previous: Sequence[int], frequency: float = 0.0, presence: float = 0.0
) -> np.ndarray:
    """``z_j - c_j * frequency - [c_j > 0] * presence``, with ``c_j`` the count of token ``j``
    in ``previous`` (the OpenAI API's definition of its frequency and presence penalties)."""
    out = np.array(logits, dtype=np.float64)
    counts = np.bincount(np.asarray(previous, dtype=np.int64), minlength=out.size)[: out.size]
    return out - counts * frequency - (counts > 0) * presence


@dataclass(frozen=True)
class Settings:
    """One decoding strategy, applied in the order the fields are listed (transformers' order:
    penalties first, then temperature, then the truncation filters). ``greedy`` takes the
    argmax of the processed logits instead of sampling. Unset filters (None) do nothing."""

    greedy: bool = False
    repetition_penalty: float | None = None
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    typical: float | None = None
    min_p: float | None = None
    #: penalise tokens of the prompt as well as generated ones (transformers' default)
    penalise_prompt: bool = True

    @property
    def changes_logits(self) -> bool:
        """Whether :func:`process` changes anything (a penalty, a temperature or a filter)."""
        return (
            self.repetition_penalty is not None
            or bool(self.frequency_penalty or self.presence_penalty)
            or self.temperature != 1.0
            or any(f is not None for f in (self.top_k, self.top_p, self.typical, self.min_p))
        )


def process(logits: np.ndarray, settings: Settings, previous: Sequence[int] = ()) -> np.ndarray:
    """Apply ``settings`` to one logits vector; ``previous`` are the token ids the penalties see."""
    z = np.asarray(logits, dtype=np.float64)
    if settings.repetition_penalty is not None:
        z = repetition_penalty(z, previous, settings.repetition_penalty)
    if settings.frequency_penalty or settings.presence_penalty:
        z = frequency_presence_penalty(
            z, previous, settings.frequency_penalty, settings.presence_penalty
        )
    if settings.greedy:
        return z
    if settings.temperature != 1.0:
        z = temperature(z, settings.temperature)
    if settings.top_k is not None:
        z = top_k(z, settings.top_k)
    if settings.top_p is not None:
        z = top_p(z, settings.top_p)
    if settings.typical is not None:
        z = typical(z, settings.typical)
    if settings.min_p is not None:
        z = min_p(z, settings.min_p)
    return z


def choose(processed: np.ndarray, settings: Settings, rng: np.random.Generator | None) -> int:
    """The next token: argmax if ``settings.greedy``, else one draw from the softmax of
    ``processed`` by inverse-CDF with one uniform number from ``rng``."""
    if settings.greedy:
        return int(np.argmax(processed))
    return _draw(probabilities(processed), rng)


def _draw(probs: np.ndarray, rng: np.random.Generator | None) -> int:
    """One token drawn from ``probs`` by inverse CDF with one uniform number from ``rng``."""
    if rng is None:
        raise ValueError("sampling needs a numpy.random.Generator (rng=np.random.default_rng(0))")
    cdf = np.cumsum(probs)
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), cdf.size - 1))


# ----------------------------------------------------------------------------------------------
# 2. The model interface and the search procedures


@dataclass
class State:
    """One sequence being decoded: its token ids (prompt included), the model's cache (opaque
    here), the logits for its next token and the hidden states of all its positions."""

    ids: list[int]
    cache: object
    logits: np.ndarray  # (vocab,)
    hiddens: np.ndarray  # (positions, d)
    prompt_length: int = 0

    @property
    def generated(self) -> list[int]:
        return self.ids[self.prompt_length :]


class Stepper(Protocol):
    """What the search procedures need from a model."""

    def prefill(self, ids: Sequence[int]) -> State:
        """Run the prompt; the state's logits predict the first new token."""
        ...

    def step(self, states: Sequence[State], tokens: Sequence[int]) -> list[State]:
        """Append one token to each state (in place: the states are consumed) and return them
        with the logits and hidden state of the new position."""
        ...

    def fork(self, state: State) -> State:
        """An independent copy of ``state`` (its cache copied)."""
        ...


@dataclass
class Result:
    """One decoded sequence: the generated ids (stop token excluded), the log-probability of
    each under the unprocessed model, the entropy (nats) of the model's distribution and of the
    distribution actually drawn from at each step, and whether a stop token ended it."""

    tokens: list[int]
    logprobs: list[float] = field(default_factory=list)
    model_entropy: list[float] = field(default_factory=list)
    sampling_entropy: list[float] = field(default_factory=list)
    stopped: bool = False


def sample(
    model: Stepper,
    prompt: Sequence[int],
    max_tokens: int,
    settings: Settings,
    n: int = 1,
    seed: int = 0,
    stop_ids: frozenset[int] = frozenset(),
    prefilled: State | None = None,
) -> list[Result]:
    """Decode ``n`` continuations of ``prompt`` with ``settings``, as one batch.

    The prompt is prefilled once (or ``prefilled`` is reused) and forked ``n`` times; sample
    ``i`` draws from ``numpy.random.default_rng([seed, i])``, so it does not change when ``n``
    does. See :func:`sample_rows` for stopping.
    """
    root = prefilled if prefilled is not None else model.prefill(prompt)
    rows = [Row(root, settings, (seed, i)) for i in range(n)]
    return sample_rows(model, rows, max_tokens, stop_ids)


@dataclass(frozen=True)
class Row:
    """One sequence of a :func:`sample_rows` batch: the prefilled prompt it continues (forked,
    not consumed), its strategy and the seed of its own random generator."""

    root: State
    settings: Settings
    seed: int | tuple[int, ...] = 0


def sample_rows(
    model: Stepper,
    rows: Sequence[Row],
    max_tokens: int,
    stop_ids: frozenset[int] = frozenset(),
    until: Callable[[list[int]], bool] | None = None,
) -> list[Result]:
    """Decode every row, each with its own prompt, strategy and generator, stepping all the
    live rows as one batch. A row stops at a token in ``stop_ids``, once ``until`` (if given)
    is true of its generated tokens (a stop sequence, as a harness's ``until`` strings: the
    token that completes it is kept), or after ``max_tokens`` tokens. Penalties see the row's
    prompt and generated tokens (or only the generated ones if its ``penalise_prompt`` is
    False)."""
    states = [model.fork(r.root) for r in rows]
    rngs = [
        None if r.settings.greedy else np.random.default_rng(np.atleast_1d(r.seed).tolist())
        for r in rows
    ]
    results = [Result([]) for _ in rows]
    active = list(range(len(rows)))
    for step in range(max_tokens):
        tokens = []
        # The model's own distribution for every live row at once (log-probabilities, entropy).
        model_logp = log_softmax(np.stack([states[i].logits for i in active]))
        model_entropy = _entropy_of(model_logp)
        for b, i in enumerate(active):
            state, settings = states[i], rows[i].settings
            if settings.greedy:
                previous = state.ids if settings.penalise_prompt else state.generated
                token = int(np.argmax(process(state.logits, settings, previous)))
                drawn_entropy = 0.0
            else:  # one softmax of the processed logits serves the draw and its entropy
                if settings.changes_logits:
                    previous = state.ids if settings.penalise_prompt else state.generated
                    drawn_logp = log_softmax(process(state.logits, settings, previous))
                    drawn_entropy = float(_entropy_of(drawn_logp))
                else:  # plain sampling draws from the model's distribution, computed above
                    drawn_logp = model_logp[b]
                    drawn_entropy = float(model_entropy[b])
                token = _draw(np.exp(drawn_logp), rngs[i])
            r = results[i]
            r.logprobs.append(float(model_logp[b, token]))
            r.model_entropy.append(float(model_entropy[b]))
            r.sampling_entropy.append(drawn_entropy)
            if token in stop_ids:
                r.stopped = True
            else:
                r.tokens.append(token)
                r.stopped = until is not None and until(r.tokens)
            tokens.append(token)
        still = [(i, t) for i, t in zip(active, tokens, strict=True) if not results[i].stopped]
        if not still or step == max_tokens - 1:
            break
        active = [i for i, _ in still]
        stepped = model.step([states[i] for i in active], [t for _, t in still])
        for i, s in zip(active, stepped, strict=True):
            states[i] = s
    return results


def length_normalised(sum_logprob: float, length: int, length_penalty: float) -> float:
    """Beam score of a finished hypothesis: ``sum log p / length ** length_penalty`` (the
    normalisation transformers' ``BeamHypotheses.add`` applies, with ``length`` the number of
    generated tokens). 0 ranks by total log-probability, which favours short outputs; 1 by the
    mean log-probability per token; above 1 favours longer ones."""
    return sum_logprob / max(length, 1) ** length_penalty


@dataclass
class Beam:
    tokens: list[int]
    sum_logprob: float
    score: float
    stopped: bool


def run_together(model: Stepper, searches: Sequence) -> list:
    """Drive several searches (generators from :func:`beam_steps`, :func:`contrastive_steps`)
    at once: each yields ``(states, tokens)`` when it needs the model, and all their requests
    go to ``model.step`` as one batch. Returns each search's result, in order."""
    results: list = [None] * len(searches)
    pending = {}
    for i, search in enumerate(searches):
        try:
            pending[i] = next(search)
        except StopIteration as stop:
            results[i] = stop.value
    while pending:
        order = list(pending)
        states = [s for i in order for s in pending[i][0]]
        tokens = [t for i in order for t in pending[i][1]]
        stepped = model.step(states, tokens)
        requests, start = {}, 0
        for i in order:
            n = len(pending[i][0])
            try:
                requests[i] = searches[i].send(stepped[start : start + n])
            except StopIteration as stop:
                results[i] = stop.value
            start += n
        pending = requests
    return results


def beam_search(
    model: Stepper,
    prompt: Sequence[int],
    max_tokens: int,
    beams: int = 4,
    length_penalty: float = 1.0,
    stop_ids: frozenset[int] = frozenset(),
    prefilled: State | None = None,
) -> list[Beam]:
    """Beam search on one prompt (see :func:`beam_steps`); the hypotheses, best first."""
    root = prefilled if prefilled is not None else model.prefill(prompt)
    search = beam_steps(model, root, max_tokens, beams, length_penalty, stop_ids)
    return run_together(model, [search])[0]


def beam_steps(
    model: Stepper,
    root: State,
    max_tokens: int,
    beams: int = 4,
    length_penalty: float = 1.0,
    stop_ids: frozenset[int] = frozenset(),
):
    """Beam search as a generator for :func:`run_together`: keep the ``beams`` most probable
    partial sequences; at each step extend each by every token and keep the ``beams`` best of
    the extensions by total log-probability.

    As in transformers' beam search: an extension that picks a stop token becomes a finished
    hypothesis, scored by :func:`length_normalised`, and does not take a beam; the search ends
    once ``beams`` hypotheses are finished and the worst of them scores at least what the best
    live beam would score if it stopped now (``early_stopping=False``), or after ``max_tokens``
    steps, when the live beams join the hypotheses. Returns the hypotheses, best first.
    """
    if beams < 1:
        raise ValueError(f"beams must be >= 1, got {beams!r}")
    live: list[tuple[State, float]] = [(model.fork(root), 0.0)]
    finished: list[Beam] = []
    for step in range(max_tokens):
        candidates = []  # (sum log p, parent index, token)
        for b, (state, total) in enumerate(live):
            logp = log_softmax(state.logits)
            best = top_indices(logp, 2 * beams)
            candidates += [(total + float(logp[t]), b, int(t)) for t in best]
        candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
        chosen = []
        for total, b, token in candidates:
            generated = live[b][0].generated
            if token in stop_ids:
                score = length_normalised(total, len(generated) + 1, length_penalty)
                finished.append(Beam(list(generated), total, score, True))
            else:
                chosen.append((total, b, token))
            if len(chosen) == beams:
                break
        finished.sort(key=lambda f: -f.score)
        del finished[beams:]
        best_live = length_normalised(chosen[0][0], step + 1, length_penalty) if chosen else -np.inf
        done = len(finished) == beams and finished[-1].score >= best_live
        if done or not chosen:
            break
        if step == max_tokens - 1:
            for total, b, token in chosen:
                generated = [*live[b][0].generated, token]
                score = length_normalised(total, len(generated), length_penalty)
                finished.append(Beam(generated, total, score, False))
            break
        used: set[int] = set()
        parents = []
        for _, b, _ in chosen:
            parents.append(live[b][0] if b not in used else model.fork(live[b][0]))
            used.add(b)
        stepped = yield parents, [t for _, _, t in chosen]
        live = [(s, total) for s, (total, _, _) in zip(stepped, chosen, strict=True)]
    finished.sort(key=lambda f: -f.score)
    return finished


def degeneration_penalty(candidates: np.ndarray, context: np.ndarray) -> np.ndarray:
    """For each candidate hidden state (rows of ``candidates``), its largest cosine similarity
    with any hidden state of the context (rows of ``context``): Su et al. 2022."""
    c = candidates / np.linalg.norm(candidates, axis=-1, keepdims=True)
    h = context / np.linalg.norm(context, axis=-1, keepdims=True)
    return np.max(c @ h.T, axis=-1)


def contrastive_scores(probs: np.ndarray, penalty: np.ndarray, alpha: float) -> np.ndarray:
    """``(1 - alpha) * p(v | x) - alpha * penalty(v)`` (Su et al. 2022)."""
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    return (1 - alpha) * probs - alpha * penalty


def contrastive_search(
    model: Stepper,
    prompt: Sequence[int],
    max_tokens: int,
    k: int = 4,
    alpha: float = 0.6,
    stop_ids: frozenset[int] = frozenset(),
    prefilled: State | None = None,
) -> Result:
    """Contrastive search on one prompt (see :func:`contrastive_steps`)."""
    root = prefilled if prefilled is not None else model.prefill(prompt)
    return run_together(model, [contrastive_steps(model, root, max_tokens, k, alpha, stop_ids)])[0]


def contrastive_steps(
    model: Stepper,
    root: State,
    max_tokens: int,
    k: int = 4,
    alpha: float = 0.6,
    stop_ids: frozenset[int] = frozenset(),
):
    """Contrastive search (Su et al. 2022) as a generator for :func:`run_together`: at each
    step take the ``k`` most probable tokens, run the model one step on each (one batch of
    ``k``) to get the hidden state it would produce, and pick the one maximising
    :func:`contrastive_scores` against the hidden states of every earlier position (prompt
    included, as transformers does). ``alpha = 0`` is greedy. Returns a :class:`Result`.
    """
    state = model.fork(root)
    result = Result([])
    for _ in range(max_tokens):
        logp = log_softmax(state.logits)
        top = top_indices(logp, k)
        forks = [model.fork(state) for _ in top]
        stepped = yield forks, [int(t) for t in top]
        candidate_h = np.stack([s.hiddens[-1] for s in stepped])
        penalty = degeneration_penalty(candidate_h, state.hiddens)
        scores = contrastive_scores(np.exp(logp[top]), penalty, alpha)
        best = int(np.argmax(scores))
        token = int(top[best])
        result.logprobs.append(float(logp[token]))
        result.model_entropy.append(float(entropy_nats(state.logits)))
        result.sampling_entropy.append(0.0)
        if token in stop_ids:
            result.stopped = True
            break
        result.tokens.append(token)
        state = stepped[best]
    return result


# ----------------------------------------------------------------------------------------------
# 3. Measures of degeneration


def ngrams(tokens: Sequence, n: int) -> list[tuple]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def repetition_rate(tokens: Sequence, n: int = 4) -> float:
    """Share of a sequence's n-grams that repeat an n-gram seen earlier in it: ``1 - |unique
    n-grams| / |n-grams|`` (Welleck et al. 2020, "seq-rep-n"). 0 for fewer than ``n``
    tokens."""
    grams = ngrams(tokens, n)
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def distinct_n(sequences: Sequence[Sequence], n: int = 2) -> float:
    """Distinct n-grams over all n-grams of a set of sequences (Li et al. 2016)."""
    grams = [g for s in sequences for g in ngrams(s, n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def repeated_positions(tokens: Sequence, n: int = 4) -> np.ndarray:
    """For each position, whether the token there ends an n-gram that already occurred earlier
    in the sequence (the positions that make up :func:`repetition_rate`)."""
    seen: set[tuple] = set()
    out = np.zeros(len(tokens), dtype=bool)
    for i, gram in enumerate(ngrams(tokens, n)):
        out[i + n - 1] = gram in seen
        seen.add(gram)
    return out


def loop_period(tokens: Sequence, max_period: int = 32) -> tuple[int, int]:
    """Whether ``tokens`` end in a loop: the smallest period ``q`` whose last ``2q`` tokens are
    one block repeated, and how many tokens at the end follow that period. ``(0, 0)`` if none."""
    t = list(tokens)
    for q in range(1, min(max_period, len(t) // 2) + 1):
        if t[-q:] == t[-2 * q : -q]:
            length = 2 * q
            while length < len(t) and t[-length - 1] == t[-length - 1 + q]:
                length += 1
            return q, length
    return 0, 0


# ----------------------------------------------------------------------------------------------
# The numpy SmolLM2 as a Stepper


class SmolLM:
    """:class:`Stepper` for :class:`llmbook.smollm.Model`: prefill with the model's own
    forward pass; one-token steps for a batch of sequences at once (each weight matrix
    multiplies a ``(batch, d)`` matrix, each sequence attends to its own cache)."""

    def __init__(self, model):
        from llmbook import smollm

        self.model = model
        self._smollm = smollm
        self.config = model.config

    def prefill(self, ids: Sequence[int]) -> State:
        cache = self.model.new_cache()
        hiddens = self.model.hidden(list(ids), cache)
        logits = self.model.head(hiddens[-1])
        return State(list(ids), cache, logits, hiddens, prompt_length=len(ids))

    def extend(self, state: State, ids: Sequence[int]) -> State:
        """A new state: ``state`` (forked, not consumed) continued by ``ids`` in one forward
        pass, as a prompt that shares its beginning with others (solved examples) is prefilled
        once for all of them."""
        new = self.fork(state)
        hiddens = self.model.hidden(list(ids), new.cache)
        ids_ = new.ids + list(ids)
        return State(ids_, new.cache, self.model.head(hiddens[-1]),
                     np.concatenate([state.hiddens, hiddens]), prompt_length=len(ids_))  # fmt: skip

    def fork(self, state: State) -> State:
        src = state.cache
        cache = self._smollm.KVCache(self.config, capacity=max(src.length + 64, 64))
        for layer in range(self.config.n_layer):
            cache.k[layer][:, : src.length] = src.k[layer][:, : src.length]
            cache.v[layer][:, : src.length] = src.v[layer][:, : src.length]
        cache.length = src.length
        return replace(state, ids=list(state.ids), cache=cache)

    def step(self, states: Sequence[State], tokens: Sequence[int]) -> list[State]:
        sm, cfg, w = self._smollm, self.config, self.model.weights
        B, hd = len(states), cfg.head_dim
        if B == 0:
            return []
        n_q, n_kv = cfg.n_head * hd, cfg.n_kv_head * hd
        starts = np.array([s.cache.length for s in states])
        lengths = starts + 1  # positions each new token attends to, itself included
        cos, sin = sm.rope_angles(starts, cfg.rope_dim, cfg.rope_base)  # (B, hd/2)
        x = w.tok_emb[np.asarray(tokens, dtype=np.int64)]  # (B, d)
        for i, layer in enumerate(w.layers):
            h = sm.rms_norm(x, layer.attn_norm, cfg.rms_eps)
            qkv = h @ layer.wqkv
            q = sm.apply_rope(qkv[:, :n_q].reshape(B, cfg.n_head, hd), cos, sin, self.model.rope)
            k = sm.apply_rope(
                qkv[:, n_q : n_q + n_kv].reshape(B, cfg.n_kv_head, hd), cos, sin, self.model.rope
            )
            v = qkv[:, n_q + n_kv :].reshape(B, cfg.n_kv_head, hd)
            keys = [
                s.cache.update(i, k[b][:, None, :], v[b][:, None, :]) for b, s in enumerate(states)
            ]
            att = batched_attention(q, keys, lengths)
            x = x + att @ layer.wo
            h = sm.rms_norm(x, layer.ffn_norm, cfg.rms_eps)
            gate, up = np.split(h @ layer.w_gate_up, 2, axis=-1)
            x = x + (sm.silu(gate) * up) @ layer.w_down
        hidden = sm.rms_norm(x, w.norm, cfg.rms_eps)
        logits = self.model.head(hidden)
        out = []
        for b, s in enumerate(states):
            s.cache.advance(1)
            s.ids.append(int(tokens[b]))
            s.logits = logits[b]
            s.hiddens = np.concatenate([s.hiddens, hidden[b : b + 1]])
            out.append(s)
        return out


def batched_attention(
    q: np.ndarray, keys: Sequence[tuple[np.ndarray, np.ndarray]], lengths: np.ndarray
) -> np.ndarray:
    """Attention of one new query per sequence, ``q`` ``(B, n_head, hd)``, to that sequence's
    cached keys and values (``keys[b]`` = ``(K, V)``, each ``(n_kv_head, lengths[b], hd)``).

    The caches are stacked into one zero-padded ``(B, n_kv_head, max length, hd)`` array and
    the padding is masked, so the batch costs a few array operations instead of a loop; when
    the rows have only a few distinct lengths, each length is stacked without padding instead
    (half the time for the book's decoding experiments; the same result). As in
    :func:`llmbook.smollm.attention`, scores, softmax and the weighted sum are float64 and query
    head ``h`` reads key/value head ``h // (n_head / n_kv_head)``. Returns ``(B, n_head * hd)``.
    """
    B, n_head, hd = q.shape
    n_kv = keys[0][0].shape[0]
    group, S = n_head // n_kv, int(lengths.max())
    distinct = np.unique(lengths)
    if 1 < distinct.size <= B // 4:  # few lengths (rows of a few prompts): no padding at all
        out = np.empty((B, n_head * hd), dtype=np.float32)
        for length in distinct:
            rows = np.flatnonzero(lengths == length)
            out[rows] = batched_attention(q[rows], [keys[b] for b in rows], lengths[rows])
        return out
    if distinct.size == 1:  # no padding (rows that started from equal-length prompts)
        K = np.array([k for k, _ in keys], dtype=np.float64)  # one pass: copy and widen
        V = np.array([v for _, v in keys], dtype=np.float64)
    else:
        K = np.zeros((B, n_kv, S, hd))
        V = np.zeros((B, n_kv, S, hd))
        for b, (k, v) in enumerate(keys):
            K[b, :, : k.shape[1]] = k
            V[b, :, : v.shape[1]] = v
    qg = q.astype(np.float64).reshape(B, n_kv, group, hd)
    scores = qg @ K.transpose(0, 1, 3, 2) / np.sqrt(hd)  # (B, n_kv, group, S)
    padding = np.arange(S)[None, :] >= lengths[:, None]  # (B, S)
    scores = np.where(padding[:, None, None, :], -np.inf, scores)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return (weights @ V).reshape(B, n_head * hd).astype(np.float32)


def token_label(text: str) -> str:
    """A token's text made visible in a figure or table: spaces as ``␣``, newlines as ``↵``."""
    return text.replace(" ", "\u2423").replace("\n", "\u21b5") or "(empty)"


def smollm_shape(config):
    """The :class:`llmbook.architecture.Shape` of a :class:`llmbook.smollm.Config` (a LLaMA
    block: RMSNorm, RoPE, grouped-query attention, SwiGLU, no biases; tied output head)."""
    from llmbook.architecture import Shape

    return Shape(
        layers=config.n_layer,
        d_model=config.d_model,
        heads=config.n_head,
        vocab_size=config.vocab_size,
        kv_heads=config.n_kv_head,
        head_dim=config.head_dim,
        ffn_dim=config.d_ff,
        context_length=config.context_length,
        attention="gqa",
        tied_embeddings=True,
    )


def residual_stream(model, ids: Sequence[int]) -> np.ndarray:
    """The residual stream of ``model`` (:class:`llmbook.smollm.Model`) on ``ids``: the token
    embeddings and the output of every block, ``(n_layer + 1, T, d)``, before the final norm.

    The same arithmetic as ``Model.hidden``, kept layer by layer (the tests check that the
    final norm of the last entry is ``Model.hidden``)."""
    from llmbook import smollm as sm

    cfg, w = model.config, model.weights
    ids = np.asarray(ids, dtype=np.int64)
    T, hd = len(ids), cfg.head_dim
    cache = model.new_cache()
    cos, sin = sm.rope_angles(np.arange(T), cfg.rope_dim, cfg.rope_base)
    n_q, n_kv = cfg.n_head * hd, cfg.n_kv_head * hd
    x = w.tok_emb[ids]
    states = [x]
    for i, layer in enumerate(w.layers):
        h = sm.rms_norm(x, layer.attn_norm, cfg.rms_eps)
        qkv = h @ layer.wqkv
        q = sm.apply_rope(qkv[:, :n_q].reshape(T, cfg.n_head, hd), cos, sin, model.rope)
        k = sm.apply_rope(
            qkv[:, n_q : n_q + n_kv].reshape(T, cfg.n_kv_head, hd), cos, sin, model.rope
        )
        v = qkv[:, n_q + n_kv :].reshape(T, cfg.n_kv_head, hd)
        keys, values = cache.update(i, k.transpose(1, 0, 2), v.transpose(1, 0, 2))
        x = x + sm.attention(q, keys, values, 0) @ layer.wo
        h = sm.rms_norm(x, layer.ffn_norm, cfg.rms_eps)
        gate, up = np.split(h @ layer.w_gate_up, 2, axis=-1)
        x = x + (sm.silu(gate) * up) @ layer.w_down
        states.append(x)
    return np.stack(states)


# ----------------------------------------------------------------------------------------------
# Timing (the only wall-clock code of the module)


def timed(fn: Callable[[], object], repeats: int = 3) -> float:
    """Best wall-clock seconds of ``repeats`` calls of ``fn``."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return float(best)


def copy_bandwidth_bytes_per_s(megabytes: int = 256, repeats: int = 5) -> float:
    """Memory bandwidth of this machine as a large numpy copy sees it: bytes read plus bytes
    written, per second (the method of ``scripts/bench_smollm.py``)."""
    src = np.ones(megabytes * 2**20 // 4, dtype=np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    return 2 * src.nbytes / timed(lambda: np.copyto(dst, src), repeats)


def matmul_flops_per_s(n: int = 1024, repeats: int = 3) -> float:
    """Float32 FLOP/s of an ``n × n`` by ``n × n`` numpy matrix product (``2 n³`` FLOPs), the
    arithmetic peak this machine's BLAS reaches on a large, cache-friendly product."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    return 2 * n**3 / timed(lambda: a @ b, repeats)


def decode_tokens_per_s(lm: SmolLM, root: State, batch: int, steps: int, repeats: int = 1) -> float:
    """Aggregate tokens/s of ``steps`` batched one-token steps of ``batch`` copies of ``root``
    (forward pass and output head only: no sampling), after one untimed warm-up step; the best
    of ``repeats`` runs."""
    best = 0.0
    for _ in range(repeats):
        states = lm.step([lm.fork(root) for _ in range(batch)], [0] * batch)
        start = time.perf_counter()
        for _ in range(steps):
            states = lm.step(states, [int(np.argmax(s.logits)) for s in states])
        best = max(best, batch * steps / (time.perf_counter() - start))
    return best


# ----------------------------------------------------------------------------------------------
# The decoding roofline (formulas; llmbook.memory has the single-stream bounds)


def bytes_per_decode_step(
    weight_bytes: float, kv_bytes_per_token: float, context_tokens: int, batch: int = 1
) -> float:
    """Bytes read from memory by one decoding step of ``batch`` sequences: every weight once
    (shared by the batch) plus each sequence's KV cache of ``context_tokens`` tokens."""
    return float(weight_bytes) + float(batch) * float(context_tokens) * float(kv_bytes_per_token)


def roofline_tokens_per_s(
    params: float,
    weight_bytes: float,
    kv_bytes_per_token: float,
    context_tokens: int,
    batch: int,
    bandwidth_bytes_per_s: float,
    peak_flops_per_s: float,
) -> dict[str, float]:
    """Aggregate decoding tokens/s of ``batch`` sequences under the two limits of the roofline
    model (Williams et al. 2009): memory, ``batch × bandwidth / bytes per step``, and
    arithmetic, ``peak / (2 N)`` (2 FLOPs per parameter per token; attention's FLOPs, small at
    short contexts, are left out). Returns both limits and their minimum, ``bound``."""
    step_bytes = bytes_per_decode_step(weight_bytes, kv_bytes_per_token, context_tokens, batch)
    memory_limit = batch * bandwidth_bytes_per_s / step_bytes
    compute_limit = peak_flops_per_s / (2 * float(params))
    return {
        "memory": memory_limit,
        "compute": compute_limit,
        "bound": min(memory_limit, compute_limit),
    }


def token_counts(results: Sequence[Result]) -> Counter:
    return Counter(t for r in results for t in r.tokens)
