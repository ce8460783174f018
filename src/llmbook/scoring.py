"""How benchmark scores are computed: multiple choice, perplexity and their uncertainty.

Two ways to ask a language model a multiple-choice question, as the evaluation harnesses do:

* **Log-likelihood (cloze).** Score every choice by the log-probability the model gives to the
  choice's text after the question, ``log p(choice | question) = sum_t log p(c_t | question,
  c_<t)``, and pick the highest. A long choice collects more negative terms than a short one, so
  the sum is usually *normalised*: per token (the mean) or per character (the sum divided by the
  number of characters, which, unlike tokens, do not depend on the tokenizer). EleutherAI's
  lm-evaluation-harness reports the raw sum as ``acc`` and the length-normalised one as
  ``acc_norm``.
* **Generated letter.** Show the question *and* the lettered choices, end with ``Answer:``, and
  read the model's next token: either the greedy token itself (a letter, or something else that
  counts as wrong), or the most probable of the letter tokens (the model is forced to pick one).
  This is how MMLU was scored in its paper (Hendrycks et al. 2021, §3) and how C-Eval and CMMLU
  report "answer-only" results.

The functions that only do arithmetic (normalisation, accuracy, bootstrap interval, perplexity,
bits per character) take numpy arrays and are tested on hand-made cases; the ones that run a model
take a :class:`llmbook.smollm.Model`.

Identities used throughout (``nll`` is a total negative log-likelihood in nats):

* perplexity per token ``= exp(nll / tokens)``;
* bits per character ``= nll / ln 2 / characters``; bits per byte likewise with UTF-8 bytes;
* hence ``log2(perplexity per token) * tokens / characters = bits per character``: the same
  model and text give a different per-token perplexity under a different tokenizer, but the same
  bits per character.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# log_softmax has one implementation, in llmbook.decoding; it stays importable from here.
from llmbook.decoding import log_softmax

# Moved to llmbook.stats; the old names stay importable from here for one release.
from llmbook.stats import bootstrap_ci

#: Choice letters used by MMLU, C-Eval and CMMLU (four choices).
LETTERS = ("A", "B", "C", "D")
#: The normalisations :func:`choice_scores` knows.
NORMALISATIONS = ("sum", "per_token", "per_char")


# ----------------------------------------------------------------------------------------------
# Arithmetic: log-probabilities, normalisation, accuracy and its uncertainty


def target_logprobs(logits: np.ndarray, targets: Sequence[int]) -> np.ndarray:
    """``log p(targets[t])`` under the distribution of row ``t`` of ``logits`` ``(T, vocab)``."""
    lp = log_softmax(logits)
    idx = np.asarray(targets, dtype=np.int64)
    if lp.shape[0] != len(idx):
        raise ValueError(f"{lp.shape[0]} rows of logits for {len(idx)} targets")
    return lp[np.arange(len(idx)), idx]


def choice_scores(
    logprob_sums: Sequence[float],
    n_tokens: Sequence[int],
    n_chars: Sequence[int],
    normalisation: str = "sum",
) -> np.ndarray:
    """The score of each choice: its summed log-probability, optionally normalised.

    ``"sum"``: ``sum_t log p``; ``"per_token"``: divided by the choice's token count;
    ``"per_char"``: divided by its character count.
    """
    s = np.asarray(logprob_sums, dtype=np.float64)
    if normalisation == "sum":
        return s
    if normalisation == "per_token":
        return s / np.asarray(n_tokens, dtype=np.float64)
    if normalisation == "per_char":
        return s / np.asarray(n_chars, dtype=np.float64)
    raise ValueError(f"unknown normalisation {normalisation!r}; use one of {NORMALISATIONS}")


def accuracy(predicted: Sequence[int], answers: Sequence[int]) -> float:
    """Share of items whose predicted choice index equals the answer index."""
    p, a = np.asarray(predicted), np.asarray(answers)
    if p.shape != a.shape or p.size == 0:
        raise ValueError("predicted and answers must be non-empty and of equal length")
    return float(np.mean(p == a))


def random_baseline(n_choices: Sequence[int]) -> float:
    """Expected accuracy of guessing uniformly: the mean of ``1 / choices`` over the items."""
    k = np.asarray(n_choices, dtype=np.float64)
    return float(np.mean(1.0 / k))


def perplexity(nll_nats: float, n_tokens: int) -> float:
    """``exp(nll / tokens)``: the per-token perplexity of a text with total NLL ``nll_nats``."""
    return math.exp(nll_nats / n_tokens)


def bits_per_char(nll_nats: float, n_chars: int) -> float:
    """``nll / ln 2 / characters``: the bits the model needs per character of the text."""
    return nll_nats / math.log(2.0) / n_chars


def bits_per_byte(nll_nats: float, n_bytes: int) -> float:
    """``nll / ln 2 / bytes`` with the text's UTF-8 byte count."""
    return nll_nats / math.log(2.0) / n_bytes


def perplexity_if_tokenized(nll_nats: float, n_tokens: int) -> float:
    """The per-token perplexity the same total NLL would show if the text were cut into
    ``n_tokens`` tokens: ``exp(nll / n_tokens)``. Same information, different denominator."""
    return perplexity(nll_nats, n_tokens)


# ----------------------------------------------------------------------------------------------
# Running a model


def fork_cache(cache):
    """A copy of a :class:`llmbook.smollm.KVCache` that can be extended without touching the
    original (a shared prompt scored against several continuations)."""
    from llmbook.smollm import KVCache

    new = KVCache(cache.config, capacity=max(cache.length, 1) + 16)
    for layer in range(cache.config.n_layer):
        new.k[layer][:, : cache.length] = cache.k[layer][:, : cache.length]
        new.v[layer][:, : cache.length] = cache.v[layer][:, : cache.length]
    new.length = cache.length
    return new


def encode(model, text: str) -> list[int]:
    """Token ids of plain ``text`` (no control tokens, no BOS)."""
    return model.tokenizer.encode(text)


@dataclass(frozen=True)
class ClozeResult:
    """Per choice: summed log-probability, token count and character count."""

    logprob_sums: np.ndarray
    n_tokens: np.ndarray
    n_chars: np.ndarray

    def scores(self, normalisation: str = "sum") -> np.ndarray:
        return choice_scores(self.logprob_sums, self.n_tokens, self.n_chars, normalisation)

    def predict(self, normalisation: str = "sum") -> int:
        return int(np.argmax(self.scores(normalisation)))


def cloze(model, prompt: str, choices: Sequence[str]) -> ClozeResult:
    """Log-likelihood of each choice after ``prompt``; the prompt runs once and its KV cache is
    shared by the choices. The choice text is encoded on its own and appended to the prompt's
    tokens (as lm-evaluation-harness does when context and continuation split cleanly)."""
    prompt_ids = encode(model, prompt)
    cache = model.new_cache()
    last = model.head(model.hidden(prompt_ids, cache)[-1:])  # predicts the first choice token
    sums, tokens, chars = [], [], []
    for choice in choices:
        ids = encode(model, choice)
        if not ids:
            raise ValueError(f"choice {choice!r} encodes to no tokens")
        logits = last
        if len(ids) > 1:
            logits = np.concatenate([last, model.step(ids[:-1], fork_cache(cache))], axis=0)
        sums.append(float(target_logprobs(logits, ids).sum()))
        tokens.append(len(ids))
        chars.append(len(choice.strip()))
    return ClozeResult(np.array(sums), np.array(tokens), np.array(chars))


def letter_prompt(question: str, choices: Sequence[str], lang: str = "en") -> str:
    """The question with lettered choices and an answer cue, in the MMLU / C-Eval layout."""
    lines = [question]
    lines += [f"{letter}. {choice}" for letter, choice in zip(LETTERS, choices, strict=False)]
    lines.append("答案：" if lang == "zh" else "Answer:")
    return "\n".join(lines)


@dataclass(frozen=True)
class LetterResult:
    """The next-token distribution after the answer cue, read two ways."""

    letter_logprobs: np.ndarray  # log p of " A", " B", ... (one per choice)
    greedy_token: str  # the single most probable next token, as text

    def predict(self) -> int:
        """The most probable letter (the model is forced to choose one)."""
        return int(np.argmax(self.letter_logprobs))

    def generated(self) -> int | None:
        """The choice the greedy token names, or None if it is not one of the letters."""
        text = self.greedy_token.strip()
        return LETTERS.index(text) if text in LETTERS[: len(self.letter_logprobs)] else None


def letter_token_ids(model, n_choices: int, lang: str = "en") -> list[int]:
    """Token ids of the letters as they follow the answer cue (``" A"`` after ``Answer:``,
    ``"A"`` after ``答案：``); each must be a single token."""
    ids = []
    for letter in LETTERS[:n_choices]:
        enc = encode(model, letter if lang == "zh" else " " + letter)
        if len(enc) != 1:
            raise ValueError(f"letter {letter!r} is {len(enc)} tokens for this tokenizer")
        ids.append(enc[0])
    return ids


def letter(model, question: str, choices: Sequence[str], lang: str = "en") -> LetterResult:
    """Show the lettered choices and read the next token after the answer cue."""
    ids_prompt = encode(model, letter_prompt(question, choices, lang))
    hidden = model.hidden(ids_prompt, model.new_cache())
    lp = log_softmax(model.head(hidden[-1]))  # only the last position's head is needed
    ids = letter_token_ids(model, len(choices), lang)
    return LetterResult(lp[ids], model.decode([int(np.argmax(lp))]))


# ----------------------------------------------------------------------------------------------
# Many prompts and continuations in few forward passes
#
# A forward pass of a 135M-parameter model reads all of its weights, whatever the number of
# tokens: scoring 100 items one call at a time is dominated by that fixed cost. Packing puts many
# independent segments side by side in one sequence and lets each token attend only to its own
# segment, through an explicit attention mask and explicit positions. A segment is a prefix (the
# question) followed by continuations (the choices) that all attend to the prefix but not to one
# another: the prefix is computed once, as with a shared KV cache.


@dataclass(frozen=True)
class Segment:
    """A prefix and the continuations to score after it (possibly none)."""

    prefix: list[int]
    continuations: list[list[int]]

    @property
    def n_tokens(self) -> int:
        return len(self.prefix) + sum(len(c) for c in self.continuations)


@dataclass(frozen=True)
class SegmentScores:
    """Log-probabilities for one :class:`Segment`.

    ``next_logprobs``: the distribution (vocab,) after the prefix's last token;
    ``continuation_logprobs``: per continuation, ``log p`` of each of its tokens.
    """

    next_logprobs: np.ndarray
    continuation_logprobs: list[np.ndarray]


def pack(segments: Sequence[Segment]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """Token ids ``(T,)``, positions ``(T,)`` and attention mask ``(T, T)`` (True = may attend)
    of segments laid side by side; also, per segment, the row index of the prefix's last token
    and of each continuation's tokens."""
    ids, positions, owner = [], [], []  # owner: (segment, -1 for prefix or continuation index)
    layout = []
    for s, seg in enumerate(segments):
        if not seg.prefix:
            raise ValueError("a segment needs a non-empty prefix")
        start = len(ids)
        ids += seg.prefix
        positions += list(range(len(seg.prefix)))
        owner += [(s, -1)] * len(seg.prefix)
        prefix_last = start + len(seg.prefix) - 1
        spans = []
        for c, cont in enumerate(seg.continuations):
            spans.append(np.arange(len(ids), len(ids) + len(cont)))
            ids += cont
            positions += list(range(len(seg.prefix), len(seg.prefix) + len(cont)))
            owner += [(s, c)] * len(cont)
        layout.append((prefix_last, spans))
    seg_of = np.array([o[0] for o in owner])
    part_of = np.array([o[1] for o in owner])
    index = np.arange(len(ids))
    same_segment = seg_of[:, None] == seg_of[None, :]
    earlier = index[None, :] <= index[:, None]
    # A token sees its segment's prefix and its own continuation (not sibling continuations).
    visible = (part_of[None, :] == -1) | (part_of[None, :] == part_of[:, None])
    mask = same_segment & earlier & visible
    return np.array(ids, dtype=np.int64), np.array(positions), mask, layout


def masked_hidden(
    model, ids: np.ndarray, positions: np.ndarray, mask: np.ndarray, past=None
) -> np.ndarray:
    """Final-norm hidden states ``(T, d)`` of a packed sequence: the forward pass of
    :meth:`llmbook.smollm.Model.hidden` with explicit rotary positions and attention mask
    (float32 attention).

    ``past``, a :class:`llmbook.smollm.KVCache` of a shared beginning (solved examples, a
    system turn), is visible to every token on top of ``mask``; the caller counts
    ``positions`` on from its length. The cache is read, not extended."""
    from llmbook.smollm import apply_rope, rms_norm, rope_angles, silu, softmax

    cfg, w = model.config, model.weights
    T, hd = len(ids), cfg.head_dim
    n_q, n_kv = cfg.n_head * hd, cfg.n_kv_head * hd
    group = cfg.n_head // cfg.n_kv_head
    cos, sin = rope_angles(positions, cfg.rope_dim, cfg.rope_base)
    P = 0 if past is None else past.length
    visible = np.concatenate([np.ones((T, P), dtype=bool), mask], axis=1)  # (T, P + T)
    bias = np.where(visible, np.float32(0), np.float32(-np.inf))  # added to every head's scores
    x = w.tok_emb[ids]
    for i, layer in enumerate(w.layers):
        h = rms_norm(x, layer.attn_norm, cfg.rms_eps)
        qkv = h @ layer.wqkv
        q = apply_rope(qkv[:, :n_q].reshape(T, cfg.n_head, hd), cos, sin, model.rope)
        k = apply_rope(qkv[:, n_q : n_q + n_kv].reshape(T, cfg.n_kv_head, hd), cos, sin, model.rope)
        v = qkv[:, n_q + n_kv :].reshape(T, cfg.n_kv_head, hd)
        keys, values = k.transpose(1, 0, 2), v.transpose(1, 0, 2)  # (kv, T, hd)
        if P:
            keys = np.concatenate([past.k[i][:, :P], keys], axis=1)  # (kv, P + T, hd)
            values = np.concatenate([past.v[i][:, :P], values], axis=1)
        qg = q.reshape(T, cfg.n_kv_head, group, hd).transpose(1, 2, 0, 3)  # (kv, g, T, hd)
        scores = qg @ keys.transpose(0, 2, 1)[:, None] / np.float32(np.sqrt(hd))  # (kv,g,T,P+T)
        scores += bias
        out = softmax(scores) @ values[:, None]  # (kv, g, T, hd)
        x = x + out.transpose(2, 0, 1, 3).reshape(T, n_q) @ layer.wo
        h = rms_norm(x, layer.ffn_norm, cfg.rms_eps)
        gate, up = np.split(h @ layer.w_gate_up, 2, axis=-1)
        x = x + (silu(gate) * up) @ layer.w_down
    return rms_norm(x, w.norm, cfg.rms_eps)


def score_segments(
    model, segments: Sequence[Segment], max_row_tokens: int = 256, past=None
) -> list[SegmentScores]:
    """Score many segments in few forward passes: segments are packed, in order, into rows of at
    most ``max_row_tokens`` tokens (a longer segment gets a row of its own).

    With ``past`` (a :class:`llmbook.smollm.KVCache`), every segment continues the text held in
    that cache, which is computed once for all of them (:func:`masked_hidden`)."""
    rows: list[list[int]] = [[]]
    size = 0
    for i, seg in enumerate(segments):
        if rows[-1] and size + seg.n_tokens > max_row_tokens:
            rows.append([])
            size = 0
        rows[-1].append(i)
        size += seg.n_tokens
    results: dict[int, SegmentScores] = {}
    for row in rows:
        ids, positions, mask, layout = pack([segments[i] for i in row])
        offset = 0 if past is None else past.length
        hidden = masked_hidden(model, ids, positions + offset, mask, past)
        # One output-head product for every position whose prediction is needed: each prefix's
        # last token, and for token t of a continuation the position before it.
        wanted, targets = [], []
        for i, (prefix_last, spans) in zip(row, layout, strict=True):
            wanted.append([prefix_last])
            for cont, span in zip(segments[i].continuations, spans, strict=True):
                wanted.append(np.concatenate([[prefix_last], span[:-1]]))
                targets.append(cont)
        lp = log_softmax(model.head(hidden[np.concatenate(wanted)]))
        start, t = 0, 0
        for i, (_, spans) in zip(row, layout, strict=True):
            next_lp = lp[start].astype(np.float32)
            start += 1
            conts = []
            for span in spans:
                cont = targets[t]
                conts.append(lp[np.arange(start, start + len(span)), cont])
                start += len(span)
                t += 1
            results[i] = SegmentScores(next_lp, conts)
    return [results[i] for i in range(len(segments))]


def text_nll(model, text: str, bos: bool = True) -> tuple[float, int]:
    """Total negative log-likelihood (nats) of ``text`` under ``model`` and its token count.

    With ``bos`` the text follows the model's beginning-of-text token, so its first token is
    predicted too; otherwise the first token is given and not scored.
    """
    lp = token_logprobs(model, text, bos=bos)
    return float(-lp.sum()), len(encode(model, text))


def token_logprobs(model, text: str, bos: bool = True) -> np.ndarray:
    """``log p(token_t | text before it)`` for each token of ``text`` (nats), one forward pass.

    With ``bos`` the text follows the model's beginning-of-text token and every token is scored;
    otherwise the first token is given and not scored."""
    ids = encode(model, text)
    context = [model.config.bos_id] + ids if bos else ids
    return target_logprobs(model.logits(context[:-1]), context[1:])


# ----------------------------------------------------------------------------------------------
# A table of items, scored


def cloze_prompt(question: str, lang: str = "en") -> str:
    """The question alone with an answer cue, for log-likelihood scoring of the choices."""
    return f"问题：{question}\n答案：" if lang == "zh" else f"Question: {question}\nAnswer:"


def cloze_choice(choice: str, lang: str = "en") -> str:
    """A choice as it continues :func:`cloze_prompt`: after a space in English, directly in
    Chinese (which writes no spaces)."""
    return choice if lang == "zh" else " " + choice


def _choices(row) -> list[str]:
    return [str(row[f"choice_{c}"]) for c in "abcd"]


def score_items(model, items, method: str, max_row_tokens: int = 256):
    """Score a table of four-choice items (columns ``item``, ``language``, ``question``,
    ``choice_a`` .. ``choice_d``, ``answer``) with ``method`` ``"cloze"`` or ``"letter"``.

    Returns one row per item with ``answer`` (index 0-3), ``tokens`` (tokens run), and for
    ``cloze``: the choice predicted with each normalisation (``pred_sum``, ``pred_per_token``,
    ``pred_per_char``); for ``letter``: ``pred_letter`` (the most probable letter) and
    ``pred_generated`` (the letter the greedy token names, -1 if it names none), and
    ``greedy_token``.
    """
    import pandas as pd

    segments = []
    for _, row in items.iterrows():
        lang, choices = row["language"], _choices(row)
        if method == "cloze":
            prefix = encode(model, cloze_prompt(row["question"], lang))
            conts = [encode(model, cloze_choice(c, lang)) for c in choices]
            segments.append(Segment(prefix, conts))
        elif method == "letter":
            segments.append(
                Segment(encode(model, letter_prompt(row["question"], choices, lang)), [])
            )
        else:
            raise ValueError(f"unknown method {method!r}; use 'cloze' or 'letter'")
    scored = score_segments(model, segments, max_row_tokens)
    rows = []
    for (_, row), seg, res in zip(items.iterrows(), segments, scored, strict=True):
        out = {
            "item": row["item"],
            "language": row["language"],
            "answer": LETTERS.index(row["answer"]),
            "tokens": seg.n_tokens,
        }
        if method == "cloze":
            sums = [float(lp.sum()) for lp in res.continuation_logprobs]
            n_tok = [len(c) for c in seg.continuations]
            n_chr = [len(c) for c in _choices(row)]
            for norm in NORMALISATIONS:
                out[f"pred_{norm}"] = int(np.argmax(choice_scores(sums, n_tok, n_chr, norm)))
        else:
            ids = letter_token_ids(model, 4, row["language"])
            greedy = model.decode([int(np.argmax(res.next_logprobs))])
            result = LetterResult(res.next_logprobs[ids].astype(np.float64), greedy)
            generated = result.generated()
            out["pred_letter"] = result.predict()
            out["pred_generated"] = -1 if generated is None else generated
            out["greedy_token"] = greedy
        rows.append(out)
    return pd.DataFrame(rows)


def accuracy_summary(scored, columns: Sequence[str], seed: int = 0, n_resamples: int = 2000):
    """Accuracy of each prediction column of :func:`score_items` output, per language and over
    all items: ``items``, ``accuracy``, bootstrap ``ci_low`` / ``ci_high`` (95 %) and the
    ``random`` baseline (four choices)."""
    import pandas as pd

    rows = []
    groups = [("all", scored)] + [(lang, g) for lang, g in scored.groupby("language")]
    for column in columns:
        for lang, group in groups:
            correct = (group[column] == group["answer"]).to_numpy()
            lo, hi = bootstrap_ci(correct, n_resamples=n_resamples, seed=seed)
            rows.append(
                {
                    "method": column.removeprefix("pred_"),
                    "language": lang,
                    "items": len(group),
                    "accuracy": float(correct.mean()),
                    "ci_low": lo,
                    "ci_high": hi,
                    "random": random_baseline([len(LETTERS)] * len(group)),
                }
            )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# Letter-scoring protocols: few-shot, chat template, permuted choices


def rotate_choices(choices: Sequence[str], answer: int, shift: int) -> tuple[list[str], int]:
    """The choices rotated left by ``shift`` (choice ``shift`` first) and where the right one
    lands: each item is asked once per rotation to measure a position bias."""
    n = len(choices)
    shift %= n
    return list(choices[shift:]) + list(choices[:shift]), (answer - shift) % n


def few_shot_letter_prompt(
    question: str, choices: Sequence[str], shots: Sequence[tuple[str, Sequence[str], int]],
    lang: str = "en",
) -> str:  # fmt: skip
    """:func:`letter_prompt` preceded by solved examples ``(question, choices, answer index)``,
    each followed by its answer letter, separated by blank lines (the MMLU paper's few-shot
    layout)."""
    sep = "" if lang == "zh" else " "
    solved = [f"{letter_prompt(q, c, lang)}{sep}{LETTERS[a]}" for q, c, a in shots]
    return "\n\n".join(solved + [letter_prompt(question, choices, lang)])


def chat_letter_prompt(question: str, choices: Sequence[str]) -> str:
    """The lettered question as a user turn of SmolLM2's chat template, asking for the letter;
    the assistant's answer starts right after the generation prompt (no space before it)."""
    from llmbook.smollm import chat_prompt

    body = "\n".join([question] + [f"{x}. {c}" for x, c in zip(LETTERS, choices, strict=False)])
    content = f"{body}\nAnswer with the letter of the correct choice only."
    return chat_prompt([{"role": "user", "content": content}])


def next_letter(model, prompts: Sequence[str], space: bool = True, max_row_tokens: int = 256):
    """For each prompt, the log-probabilities of the four letter tokens next (``" A"`` if
    ``space``, else ``"A"``) and the single most probable next token, as text. Prompts are
    packed into few forward passes (:func:`score_segments`). Returns ``(logprobs (n, 4),
    greedy tokens)``."""
    ids = letter_token_ids(model, len(LETTERS), "en" if space else "zh")
    segments = [Segment(model.encode(p), []) for p in prompts]  # control tokens become ids
    scored = score_segments(model, segments, max_row_tokens)
    logprobs = np.array([r.next_logprobs[ids] for r in scored], dtype=np.float64)
    greedy = [model.decode([int(np.argmax(r.next_logprobs))]) for r in scored]
    return logprobs, greedy


def shared_prefix(texts: Sequence[str]) -> str:
    """The longest common beginning of ``texts``, cut where no token can span the cut: before
    its last blank line (solved examples end there) or right after a chat template's
    ``<|im_start|>user`` tag, whichever comes later; ``""`` if neither occurs."""
    first = texts[0]
    columns = enumerate(zip(*texts, strict=False))  # stops at the shortest text
    common = next((first[:k] for k, chars in columns if len(set(chars)) > 1), min(texts, key=len))
    user = common.rfind("<|im_start|>user\n")
    cut = max(common.rfind("\n\n"), user + len("<|im_start|>user") if user >= 0 else -1)
    return common[: max(cut, 0)]


def next_letter_shared(
    model, prefix: str, suffixes: Sequence[str], space: bool = True, max_row_tokens: int = 256
):
    """:func:`next_letter` for prompts ``prefix + suffix`` that share a long ``prefix`` (few-shot
    examples, a chat template's system turn): the prefix is run once and its KV cache is seen
    by every suffix, and the suffixes are packed into few forward passes
    (:func:`score_segments` with ``past``). Control tokens written in the text
    (``<|im_start|>``) become their ids. Raises if a suffix's tokens would merge across the
    boundary."""
    head = model.encode(prefix)
    tails = []
    for suffix in suffixes:
        full = model.encode(prefix + suffix)
        if full[: len(head)] != head or len(full) == len(head):
            raise ValueError(f"tokens merge across the prefix boundary for suffix {suffix[:30]!r}")
        tails.append(full[len(head) :])
    cache = model.new_cache()
    model.hidden(head, cache)
    scored = score_segments(model, [Segment(t, []) for t in tails], max_row_tokens, past=cache)
    ids = letter_token_ids(model, len(LETTERS), "en" if space else "zh")
    logprobs = np.array([r.next_logprobs[ids] for r in scored], dtype=np.float64)
    greedy = [model.decode([int(np.argmax(r.next_logprobs))]) for r in scored]
    return logprobs, greedy


# ----------------------------------------------------------------------------------------------
# Answer extraction for generated solutions (GSM8K)

#: lm-evaluation-harness ``gsm8k.yaml`` (version 3.0), filter "strict-match": the first
#: ``#### <number>`` in the output.
GSM8K_STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")
#: The same file, filter "flexible-extract": the last number-like run anywhere in the output.
GSM8K_FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")


def extract_strict(text: str) -> str | None:
    """The answer after the first ``#### `` marker, or None if the output has none."""
    m = GSM8K_STRICT.search(text)
    return m.group(1) if m else None


def extract_flexible(text: str) -> str | None:
    """The last number in the output (the harness's ``group_select: -1``), or None."""
    found = GSM8K_FLEXIBLE.findall(text)
    if not found:
        return None
    return next(g for g in found[-1] if g)


def answer_matches(extracted: str | None, target: int | str) -> bool:
    """Exact match after the harness's normalisation of both sides: commas, dollar signs and a
    final full stop ignored."""
    if extracted is None:
        return False

    def norm(x) -> str:
        return re.sub(r"\.$", "", str(x).replace(",", "").replace("$", "").strip())

    return norm(extracted) == norm(target)
