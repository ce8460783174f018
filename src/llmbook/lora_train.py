"""LoRA fine-tuning of SmolLM2-135M in numpy: forward, backward and Adam through the top layers.

LoRA (Hu et al. 2021, §4.1) keeps a weight matrix ``W`` frozen and learns a low-rank update,
``h = x W + (alpha / r) · x A B`` with ``A`` (d_in × r) drawn at random and ``B`` (r × d_out)
zero, so training starts from the unchanged model. Matrices here are stored ``(in, out)`` as in
:mod:`llmbook.smollm`, so ``A B`` is the paper's ``B A`` transposed.

To fit a CPU budget only the top ``n_adapted`` transformer blocks carry adapters. The blocks
below them are frozen *and* receive no gradient, so their output, the hidden state entering the
first adapted block, is the same at every step: :func:`prefix_states` computes it once per
sequence, and each training step runs forward and backward through the adapted blocks, the final
norm and the (tied) output head only. The gradients are written out by hand (RMSNorm, rotary
embedding, grouped-query attention, SwiGLU, cross-entropy); the tests check them against central
finite differences and check the forward pass against :class:`llmbook.smollm.Model`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace

import numpy as np

from llmbook import inputs, paths
from llmbook.decoding import log_softmax
from llmbook.smollm import ROPE_INTERLEAVED, Config, Layer, Weights, apply_rope, rope_angles

#: Target matrices: the slice of the stacked ``wqkv`` / ``w_gate_up`` they occupy, or a matrix.
TARGETS = ("q", "k", "v", "o", "gate", "up", "down")
INSTRUCTIONS = "texts/zh-instructions.tsv"


# ----------------------------------------------------------------------------------------------
# The book's instruction set


def instruction_set() -> list[dict[str, str]]:
    """The book's small Chinese instruction set (``data/texts/zh-instructions.tsv``, written for
    the book): rows with ``id``, ``split`` (train/heldout), ``category``, ``instruction`` and
    ``response``. Raises ``ValueError`` on a malformed row."""
    path = paths.data_dir() / INSTRUCTIONS
    inputs.note(path)
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    seen = set()
    for row in rows:
        if set(row) != {"id", "split", "category", "instruction", "response"}:
            raise ValueError(f"row {row} does not have the five columns")
        if row["split"] not in ("train", "heldout"):
            raise ValueError(f"row {row['id']}: split must be train or heldout")
        if not row["instruction"].strip() or not row["response"].strip():
            raise ValueError(f"row {row['id']}: empty text")
        if row["id"] in seen:
            raise ValueError(f"duplicate id {row['id']}")
        seen.add(row["id"])
    return rows


@dataclass(frozen=True)
class Example:
    """One tokenised pair: ``ids`` (prompt + response + end of turn) and ``start``, the index of
    the first response token. The loss is taken on positions ``start - 1 .. len - 2``, which
    predict the response tokens and the closing ``<|im_end|>``."""

    ids: np.ndarray
    start: int


def encode_example(model, instruction: str, response: str) -> Example:
    """Chat-format ``instruction`` as a user turn (no system prompt) followed by ``response``."""
    from llmbook.smollm import chat_prompt

    prompt = chat_prompt([{"role": "user", "content": instruction}], default_system=None)
    prompt_ids = model.encode(prompt)
    answer_ids = model.encode(response + "<|im_end|>")
    return Example(np.asarray(prompt_ids + answer_ids, dtype=np.int64), len(prompt_ids))


# ----------------------------------------------------------------------------------------------
# Adapters


@dataclass
class Lora:
    """LoRA matrices for the top blocks: ``a[(layer, target)]`` (d_in × r), ``b[...]`` (r ×
    d_out); the update of a target is ``scale · A @ B`` with ``scale = alpha / rank``.

    Variants are options of this one adapter:

    * ``rslora``: ``scale = alpha / sqrt(rank)`` (Kalajdzievski 2023, rank-stabilised LoRA),
      so that the update does not shrink as the rank grows.
    * ``magnitude`` (DoRA, Liu et al. 2024): a trainable vector ``m`` per target, one entry per
      output column; the adapted matrix is ``m · V / ||V||_c`` with ``V = W + scale · A @ B`` and
      ``||V||_c`` the norm of each output column of ``V``. ``None`` for plain LoRA.
    * PiSSA (Meng et al. 2024) is an initialisation (:func:`init_lora` with ``init="pissa"``)
      and LoRA+ (Hayou et al. 2024) a learning-rate split (:func:`train`'s ``lr_ratio_b``):
      neither changes the forward pass.
    """

    rank: int
    alpha: float
    a: dict[tuple[int, str], np.ndarray]
    b: dict[tuple[int, str], np.ndarray]
    rslora: bool = False
    magnitude: dict[tuple[int, str], np.ndarray] | None = None

    @property
    def scale(self) -> float:
        return float(self.alpha / (np.sqrt(self.rank) if self.rslora else self.rank))

    @property
    def n_params(self) -> int:
        return sum(m.size for m in self.params().values())

    def params(self) -> dict[str, np.ndarray]:
        """All trainable arrays by name (``"A/29/q"``, ``"B/29/q"``, DoRA's ``"M/29/q"``), for
        the optimiser."""
        out = {f"A/{i}/{t}": m for (i, t), m in self.a.items()}
        out.update({f"B/{i}/{t}": m for (i, t), m in self.b.items()})
        if self.magnitude is not None:
            out.update({f"M/{i}/{t}": m for (i, t), m in self.magnitude.items()})
        return out


def target_slices(config: Config) -> dict[str, tuple[str, slice]]:
    """Where each target lives: (field of :class:`~llmbook.smollm.Layer`, column slice)."""
    hd = config.head_dim
    n_q, n_kv, f = config.n_head * hd, config.n_kv_head * hd, config.d_ff
    return {
        "q": ("wqkv", slice(0, n_q)),
        "k": ("wqkv", slice(n_q, n_q + n_kv)),
        "v": ("wqkv", slice(n_q + n_kv, n_q + 2 * n_kv)),
        "o": ("wo", slice(None)),
        "gate": ("w_gate_up", slice(0, f)),
        "up": ("w_gate_up", slice(f, 2 * f)),
        "down": ("w_down", slice(None)),
    }


INITS = ("gaussian", "pissa")


def init_lora(
    weights: Weights,
    layers: list[int],
    rank: int,
    alpha: float,
    targets: tuple[str, ...] = ("q", "v"),
    seed: int = 0,
    init: str = "gaussian",
    rslora: bool = False,
    dora: bool = False,
) -> Lora:
    """A new adapter on ``targets`` of ``layers``.

    ``init="gaussian"``: ``A`` ~ N(0, 1/d_in) and ``B`` = 0 (Hu et al. 2021, §4.1: "random
    Gaussian initialization for A and zero for B, so ΔW = BA is zero at the beginning of
    training").

    ``init="pissa"``: with ``W = U S Vᵀ`` (stored d_in × d_out), ``A = U[:, :r] √(S[:r]/scale)``
    and ``B = √(S[:r]/scale) Vᵀ[:r]``, so that ``scale · A @ B`` is the rank-``r`` principal part
    of ``W`` (Meng et al. 2024: A and B initialised "with the principal components of the
    original matrix W"; dividing by the scale as the PEFT library does). The frozen weights must
    then be replaced by the residual, :func:`pissa_residual`, so that the model is unchanged at
    step 0.

    ``dora=True`` adds DoRA's magnitude ``m = ||W||_c``, the norm of each output column of the
    frozen matrix the adapter starts from (the residual plus ``scale · A @ B`` for PiSSA, ``W``
    itself otherwise), so that ``m · V / ||V||_c = W`` at step 0 (Liu et al. 2024)."""
    if rank < 1:
        raise ValueError(f"rank must be at least 1, got {rank}")
    unknown = set(targets) - set(TARGETS)
    if unknown:
        raise ValueError(f"unknown targets {sorted(unknown)}; use {', '.join(TARGETS)}")
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; use one of {', '.join(INITS)}")
    lora = Lora(rank, alpha, {}, {}, rslora=rslora, magnitude={} if dora else None)
    rng = np.random.default_rng(seed)
    slices = target_slices(weights.config)
    dtype = weights.tok_emb.dtype
    for i in layers:
        for t in targets:
            field, cols = slices[t]
            w = getattr(weights.layers[i], field)[:, cols]
            d_in, d_out = w.shape
            if rank > min(d_in, d_out):
                raise ValueError(f"rank {rank} exceeds min(d_in, d_out) = {min(d_in, d_out)}")
            if init == "pissa":
                u, s, vt = np.linalg.svd(w.astype(np.float64), full_matrices=False)
                root = np.sqrt(s[:rank] / lora.scale)
                lora.a[(i, t)] = (u[:, :rank] * root).astype(dtype)
                lora.b[(i, t)] = (root[:, None] * vt[:rank]).astype(dtype)
            else:
                lora.a[(i, t)] = (rng.standard_normal((d_in, rank)) / np.sqrt(d_in)).astype(dtype)
                lora.b[(i, t)] = np.zeros((rank, d_out), dtype=dtype)
            if dora:
                # W = residual + scale·AB for PiSSA, W + 0 otherwise: the norm of W either way
                lora.magnitude[(i, t)] = np.linalg.norm(w, axis=0).astype(dtype)
    return lora


def pissa_residual(weights: Weights, lora: Lora) -> Weights:
    """The frozen weights PiSSA trains against: ``W_res = W - scale · A @ B`` for every adapted
    matrix (Meng et al. 2024: the remaining components go into "a residual matrix W_res which
    is frozen during fine-tuning"). Computed as ``W - scale · A @ B`` rather than from the
    smaller singular values, as the PEFT library does, so that ``W_res + scale · A @ B = W`` up
    to rounding."""
    slices = target_slices(weights.config)
    layers = list(weights.layers)
    for (i, t), a in lora.a.items():
        field, cols = slices[t]
        w = getattr(layers[i], field).copy()
        w[:, cols] -= (lora.scale * (a @ lora.b[(i, t)])).astype(w.dtype)
        layers[i] = replace(layers[i], **{field: w})
    return replace(weights, layers=tuple(layers))


def _dora_matrix(w_cols, lora: Lora, key):
    """DoRA's ``V = W + scale · A @ B`` and its output-column norms ``||V||_c``."""
    v = w_cols + lora.scale * (lora.a[key] @ lora.b[key])
    return v, np.linalg.norm(v, axis=0)


def merge(weights: Weights, lora: Lora) -> Weights:
    """The weights with every update folded in, ``W + scale · A @ B`` (DoRA: ``m · V /
    ||V||_c``): a plain model again, with no extra computation at inference (Hu et al. 2021,
    §4.1 "No Additional Inference Latency")."""
    slices = target_slices(weights.config)
    layers = list(weights.layers)
    for (i, t), a in lora.a.items():
        field, cols = slices[t]
        w = getattr(layers[i], field).copy()
        if lora.magnitude is not None:
            v, norm = _dora_matrix(w[:, cols], lora, (i, t))
            w[:, cols] = (v * (lora.magnitude[(i, t)] / norm)).astype(w.dtype)
        else:
            w[:, cols] += (lora.scale * (a @ lora.b[(i, t)])).astype(w.dtype)
        layers[i] = replace(layers[i], **{field: w})
    return replace(weights, layers=tuple(layers))


# ----------------------------------------------------------------------------------------------
# One block, forward and backward (a whole sequence, causal, no KV cache)


def _rms(x, weight, eps):
    r = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return x * r * weight, r


def _rms_backward(dy, x, r, weight):
    """Gradient of ``x · r · w`` with ``r = (mean(x²) + eps)^-1/2`` with respect to ``x``."""
    g = dy * weight
    return r * g - x * (r**3) * np.mean(g * x, axis=-1, keepdims=True)


def _silu(x):
    return x / (1 + np.exp(-x))


def _linear(x, w, cols_of, layer_index, lora, field):
    """``x @ w`` plus the LoRA updates of the targets stored in ``field``."""
    out = x @ w
    if lora is not None:
        for t, (f, cols) in cols_of.items():
            key = (layer_index, t)
            if f == field and key in lora.a:
                if lora.magnitude is not None:
                    v, norm = _dora_matrix(w[:, cols], lora, key)
                    out[:, cols] = (x @ v) * (lora.magnitude[key] / norm)
                else:
                    out[:, cols] += lora.scale * ((x @ lora.a[key]) @ lora.b[key])
    return out


def _linear_backward(dout, x, w, cols_of, layer_index, lora, field, grads):
    """Gradient with respect to ``x``; LoRA gradients are added to ``grads``."""
    dx = dout @ w.T
    if lora is not None:
        for t, (f, cols) in cols_of.items():
            key = (layer_index, t)
            if f == field and key in lora.a and lora.magnitude is not None:
                # DoRA: W' = m · V / n with n = ||V||_c, differentiated through the norm too
                v, norm = _dora_matrix(w[:, cols], lora, key)
                m, d = lora.magnitude[key], dout[:, cols]
                g = x.T @ d  # gradient with respect to W' (d_in × d_out)
                unit = v / norm
                along = np.sum(g * unit, axis=0)
                grads[f"M/{layer_index}/{t}"] += along
                dv = (m / norm) * (g - unit * along)
                grads[f"A/{layer_index}/{t}"] += lora.scale * (dv @ lora.b[key].T)
                grads[f"B/{layer_index}/{t}"] += lora.scale * (lora.a[key].T @ dv)
                dx += (d * (m / norm)) @ v.T - d @ w[:, cols].T
            elif f == field and key in lora.a:
                a, b, d = lora.a[key], lora.b[key], dout[:, cols]
                xa = x @ a
                grads[f"B/{layer_index}/{t}"] += lora.scale * (xa.T @ d)
                db = d @ b.T  # (T, r)
                grads[f"A/{layer_index}/{t}"] += lora.scale * (x.T @ db)
                dx += lora.scale * (db @ a.T)
    return dx


def _attention(q, k, v, segments, dtype):
    """Causal grouped-query attention within each (start, end) segment of the packed rows.
    ``q`` (T, H, hd), ``k``, ``v`` (T, G, hd); returns the output (T, H·hd) and, per segment,
    the grouped arrays and probabilities the backward needs."""
    T, H, hd = q.shape
    G = k.shape[1]
    group = H // G
    inv_sqrt = dtype.type(1 / np.sqrt(hd))  # a numpy float64 scalar would promote float32
    out = np.empty((T, H * hd), dtype=q.dtype)
    saved = []
    for start, end in segments:
        n = end - start
        # (G, group, n, hd) queries against (G, 1, n, hd) keys and values
        qg = q[start:end].reshape(n, G, group, hd).transpose(1, 2, 0, 3)
        kg = k[start:end].transpose(1, 0, 2)[:, None]
        vg = v[start:end].transpose(1, 0, 2)[:, None]
        scores = (qg @ kg.transpose(0, 1, 3, 2)) * inv_sqrt
        scores = np.where(np.triu(np.ones((n, n), bool), 1), -np.inf, scores)
        p = np.exp(scores - scores.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
        out[start:end] = (p @ vg).transpose(2, 0, 1, 3).reshape(n, H * hd)
        saved.append((qg, kg, vg, p))
    return out, saved


def _attention_backward(do, saved, segments, n_head, dtype):
    """Gradients (T, H, hd), (T, G, hd), (T, G, hd) of queries, keys and values."""
    T = do.shape[0]
    hd = do.shape[1] // n_head
    G = saved[0][1].shape[0]
    group = n_head // G
    inv_sqrt = dtype.type(1 / np.sqrt(hd))
    dq = np.empty((T, n_head, hd), dtype=do.dtype)
    dk = np.empty((T, G, hd), dtype=do.dtype)
    dv = np.empty((T, G, hd), dtype=do.dtype)
    for (start, end), (qg, kg, vg, p) in zip(segments, saved, strict=True):
        n = end - start
        dog = do[start:end].reshape(n, G, group, hd).transpose(1, 2, 0, 3)
        dp = dog @ vg.transpose(0, 1, 3, 2)
        dv[start:end] = (p.transpose(0, 1, 3, 2) @ dog).sum(axis=1).transpose(1, 0, 2)
        dscores = p * (dp - np.sum(dp * p, axis=-1, keepdims=True)) * inv_sqrt
        dq[start:end] = (dscores @ kg).transpose(2, 0, 1, 3).reshape(n, n_head, hd)
        dk[start:end] = (dscores.transpose(0, 1, 3, 2) @ qg).sum(axis=1).transpose(1, 0, 2)
    return dq, dk, dv


def block_forward(
    x, layer: Layer, index: int, config: Config, cos, sin, lora=None, rope=None, segments=None
):
    """Output of block ``index`` for ``x`` (T, d), and what the backward needs.

    ``x`` holds one sequence, or several packed one after another with ``segments`` their
    (start, end) rows: the matrix products then run once over all rows, attention within each
    sequence (``cos``, ``sin`` give each row the angles of its position in its own sequence)."""
    rope = rope or ROPE_INTERLEAVED
    cols_of = target_slices(config)
    T, hd, eps = x.shape[0], config.head_dim, config.rms_eps
    H, G = config.n_head, config.n_kv_head
    n_q, n_kv = H * hd, G * hd
    segments = segments or [(0, T)]
    h1, r1 = _rms(x, layer.attn_norm, eps)
    qkv = _linear(h1, layer.wqkv, cols_of, index, lora, "wqkv")
    q = apply_rope(qkv[:, :n_q].reshape(T, H, hd), cos, sin, rope)
    k = apply_rope(qkv[:, n_q : n_q + n_kv].reshape(T, G, hd), cos, sin, rope)
    v = qkv[:, n_q + n_kv :].reshape(T, G, hd)
    o, attn = _attention(q, k, v, segments, x.dtype)
    x2 = x + _linear(o, layer.wo, cols_of, index, lora, "wo")
    h2, r2 = _rms(x2, layer.ffn_norm, eps)
    gu = _linear(h2, layer.w_gate_up, cols_of, index, lora, "w_gate_up")
    gate, up = gu[:, : config.d_ff], gu[:, config.d_ff :]
    m = _silu(gate) * up
    x3 = x2 + _linear(m, layer.w_down, cols_of, index, lora, "w_down")
    saved = dict(x=x, h1=h1, r1=r1, attn=attn, segments=segments, o=o, x2=x2, h2=h2, r2=r2)
    saved.update(gate=gate, up=up, m=m)
    return x3, saved


def block_backward(dx3, saved, layer: Layer, index: int, config, cos, sin, lora, grads, rope=None):
    """Gradient with respect to the block's input; LoRA gradients accumulate in ``grads``."""
    rope = rope or ROPE_INTERLEAVED
    cols_of = target_slices(config)
    s = saved
    T = s["x"].shape[0]
    # feed-forward
    dm = _linear_backward(dx3, s["m"], layer.w_down, cols_of, index, lora, "w_down", grads)
    sg = 1 / (1 + np.exp(-s["gate"]))
    dgate = dm * s["up"] * (sg * (1 + s["gate"] * (1 - sg)))
    dup = dm * s["gate"] * sg
    dgu = np.concatenate([dgate, dup], axis=1)
    dh2 = _linear_backward(dgu, s["h2"], layer.w_gate_up, cols_of, index, lora, "w_gate_up", grads)
    dx2 = dx3 + _rms_backward(dh2, s["x2"], s["r2"], layer.ffn_norm)
    # attention
    do = _linear_backward(dx2, s["o"], layer.wo, cols_of, index, lora, "wo", grads)
    dq, dk, dv = _attention_backward(do, s["attn"], s["segments"], config.n_head, dx3.dtype)
    # rotation is orthogonal: its transpose rotates by the opposite angle
    dq = apply_rope(dq, cos, -sin, rope)
    dk = apply_rope(dk, cos, -sin, rope)
    dqkv = np.concatenate([dq.reshape(T, -1), dk.reshape(T, -1), dv.reshape(T, -1)], axis=1)
    dh1 = _linear_backward(dqkv, s["h1"], layer.wqkv, cols_of, index, lora, "wqkv", grads)
    return dx2 + _rms_backward(dh1, s["x"], s["r1"], layer.attn_norm)


# ----------------------------------------------------------------------------------------------
# The model: frozen prefix once, then loss and gradients through the adapted top


def _angles(config: Config, T: int, dtype):
    cos, sin = rope_angles(np.arange(T), config.rope_dim, config.rope_base)
    return cos.astype(dtype), sin.astype(dtype)


def _packed(config: Config, lengths: list[int], dtype):
    """Segments and per-row rotary angles for sequences of ``lengths`` packed together."""
    ends = np.cumsum(lengths)
    segments = [(int(e - n), int(e)) for e, n in zip(ends, lengths, strict=True)]
    positions = np.concatenate([np.arange(n) for n in lengths])
    cos, sin = rope_angles(positions, config.rope_dim, config.rope_base)
    return segments, cos.astype(dtype), sin.astype(dtype)


def prefix_states(weights: Weights, ids, n_frozen: int) -> np.ndarray:
    """Hidden state (T, d) entering block ``n_frozen``: the frozen blocks run once."""
    return prefix_states_many(weights, [ids], n_frozen)[0]


def prefix_states_many(weights: Weights, sequences: list, n_frozen: int) -> list[np.ndarray]:
    """:func:`prefix_states` of several sequences, packed into one pass (same result, fewer and
    larger matrix products)."""
    cfg = weights.config
    lengths = [len(ids) for ids in sequences]
    x = weights.tok_emb[np.concatenate([np.asarray(ids) for ids in sequences])]
    segments, cos, sin = _packed(cfg, lengths, x.dtype)
    for i in range(n_frozen):
        x, _ = block_forward(x, weights.layers[i], i, cfg, cos, sin, segments=segments)
    return [x[a:b] for a, b in segments]


def logits_with_lora(weights: Weights, ids, lora: Lora | None) -> np.ndarray:
    """Logits (T, vocab) of the whole model with the (unmerged) adapters applied."""
    cfg = weights.config
    x = weights.tok_emb[np.asarray(ids)]
    cos, sin = _angles(cfg, len(x), x.dtype)
    for i, layer in enumerate(weights.layers):
        x, _ = block_forward(x, layer, i, cfg, cos, sin, lora)
    h, _ = _rms(x, weights.norm, cfg.rms_eps)
    return h @ weights.tok_emb.T


def loss_and_grads(
    weights: Weights,
    states: list[np.ndarray],
    examples: list[Example],
    n_frozen: int,
    lora: Lora,
    need_grads: bool = True,
) -> tuple[float, dict[str, np.ndarray], dict]:
    """Mean cross-entropy over the response tokens of ``examples`` (whose prefix states are
    ``states``), the gradient of every LoRA array, and per-token statistics (``n_tokens``,
    ``n_correct``: response tokens the model ranks first)."""
    cfg = weights.config
    grads = {name: np.zeros_like(m) for name, m in lora.params().items()}
    x = np.concatenate(states)
    segments, cos, sin = _packed(cfg, [len(ex.ids) for ex in examples], x.dtype)
    saved = []
    for i in range(n_frozen, cfg.n_layer):
        x, s = block_forward(x, weights.layers[i], i, cfg, cos, sin, lora, segments=segments)
        saved.append(s)
    # rows that predict a response token (or the closing end of turn), and their targets
    pairs = zip(segments, examples, strict=True)
    pos = np.concatenate([np.arange(a + ex.start - 1, b - 1) for (a, b), ex in pairs])
    target = np.concatenate([ex.ids[ex.start :] for ex in examples])
    total = len(pos)
    h, r = _rms(x[pos], weights.norm, cfg.rms_eps)
    logp = log_softmax(h @ weights.tok_emb.T, dtype=None)
    loss = -float(logp[np.arange(total), target].sum())
    hits = logp.argmax(axis=-1) == target
    correct = int(hits.sum())
    # per example: mean loss and top-1 accuracy over its own response tokens
    bounds = np.cumsum([0] + [len(ex.ids) - ex.start for ex in examples])
    nll = -logp[np.arange(total), target]
    per_loss = [float(nll[a:b].mean()) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    per_acc = [float(hits[a:b].mean()) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    if need_grads:
        dlogits = np.exp(logp)
        dlogits[np.arange(total), target] -= 1
        dlogits /= total
        dh = dlogits @ weights.tok_emb
        dx = np.zeros_like(x)
        dx[pos] = _rms_backward(dh, x[pos], r, weights.norm)
        for i, s in zip(range(cfg.n_layer - 1, n_frozen - 1, -1), reversed(saved), strict=True):
            dx = block_backward(dx, s, weights.layers[i], i, cfg, cos, sin, lora, grads)
    stats = {"n_tokens": total, "n_correct": correct}
    stats.update(example_loss=per_loss, example_accuracy=per_acc)
    return loss / total, grads, stats


def tiny_weights(seed: int = 0, dtype=np.float64) -> Weights:
    """A random 3-block LLaMA for checks (d = 16, 4 query heads sharing 2 key/value heads,
    d_ff = 24, vocabulary 40): the same code paths as SmolLM2, small enough for float64 finite
    differences."""
    cfg = Config(
        n_layer=3, d_model=16, n_head=4, n_kv_head=2, d_ff=24, vocab_size=40, context_length=64,
        rope_base=10000.0, rope_dim=4, rms_eps=1e-5, bos_id=0, eos_id=1, chat_template="",
    )  # fmt: skip
    rng = np.random.default_rng(seed)

    def m(*shape, scale=0.3):
        return (rng.standard_normal(shape) * scale).astype(dtype)

    hd = cfg.head_dim
    layers = tuple(
        Layer(
            attn_norm=1 + m(16, scale=0.1),
            wqkv=m(16, (4 + 2 * 2) * hd),
            wo=m(16, 16),
            ffn_norm=1 + m(16, scale=0.1),
            w_gate_up=m(16, 48),
            w_down=m(24, 16),
        )
        for _ in range(3)
    )
    return Weights(cfg, m(40, 16, scale=1.0), layers, 1 + m(16, scale=0.1), {})


def n_model_params(weights: Weights) -> int:
    """Parameters of the model (the tied embedding counted once)."""
    arrays = [weights.tok_emb, weights.norm]
    for layer in weights.layers:
        arrays += [layer.attn_norm, layer.wqkv, layer.wo, layer.ffn_norm]
        arrays += [layer.w_gate_up, layer.w_down]
    return int(sum(a.size for a in arrays))


# ----------------------------------------------------------------------------------------------
# Adam and the training loop


@dataclass
class Adam:
    """Adam (Kingma & Ba 2015) with bias correction: m ← β1 m + (1-β1) g,
    v ← β2 v + (1-β2) g², θ ← θ - lr · m̂ / (√v̂ + ε)."""

    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    t: int = 0
    #: a parameter's learning rate is ``lr`` times its multiplier here (default 1): LoRA+
    lr_multipliers: dict[str, float] | None = None

    def __post_init__(self):
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        for name, p in params.items():
            g = grads[name]
            m = self.m.setdefault(name, np.zeros_like(p))
            v = self.v.setdefault(name, np.zeros_like(p))
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            m_hat = m / (1 - self.beta1**self.t)
            v_hat = v / (1 - self.beta2**self.t)
            lr = self.lr * (self.lr_multipliers or {}).get(name, 1.0)
            p -= (lr * m_hat / (np.sqrt(v_hat) + self.eps)).astype(p.dtype)


def batch_indices(n_examples: int, steps: int, batch: int, seed: int = 0) -> list[list[int]]:
    """The examples :func:`train` draws at each step: ``batch`` at a time from a permutation
    of the ``n_examples``, a new permutation (from ``seed``) whenever too few remain. Known in
    advance, so that a caller can compute the prefix states of only the examples a run uses."""
    rng = np.random.default_rng(seed)
    order: list[int] = []
    out = []
    for _ in range(steps):
        if len(order) < batch:
            order += [int(i) for i in rng.permutation(n_examples)]
        out.append(order[:batch])
        order = order[batch:]
    return out


def train(
    weights: Weights,
    train_states: list[np.ndarray],
    train_examples: list[Example],
    n_frozen: int,
    lora: Lora,
    steps: int,
    batch: int,
    lr: float,
    seed: int = 0,
    lr_ratio_b: float = 1.0,
) -> list[float]:
    """``steps`` Adam steps on mini-batches of ``batch`` examples (reshuffled every epoch);
    returns the training loss of each step (measured before its update).

    ``lr_ratio_b`` is LoRA+'s ratio λ = η_B / η_A (Hayou et al. 2024: "setting different
    learning rates for the LoRA adapter matrices A and B with a well-chosen ratio"): ``B``
    trains with ``lr · lr_ratio_b``, ``A`` (and DoRA's magnitude) with ``lr``."""
    if lr_ratio_b <= 0:
        raise ValueError(f"lr_ratio_b must be positive, got {lr_ratio_b}")
    params = lora.params()
    opt = Adam(lr=lr, lr_multipliers={k: lr_ratio_b for k in params if k.startswith("B/")})
    losses = []
    for idx in batch_indices(len(train_examples), steps, batch, seed):
        loss, grads, _ = loss_and_grads(
            weights,
            [train_states[i] for i in idx],
            [train_examples[i] for i in idx],
            n_frozen,
            lora,
        )
        opt.step(params, grads)
        losses.append(loss)
    return losses


def evaluate(weights, states, examples, n_frozen, lora) -> dict:
    """Mean response-token loss (nats) and top-1 accuracy on ``examples`` (pooled over their
    tokens), and the same per example (``example_loss``, ``example_accuracy``: lists in the
    order of ``examples``), for paired comparisons."""
    loss, _, stats = loss_and_grads(weights, states, examples, n_frozen, lora, need_grads=False)
    return {
        "loss": loss,
        "accuracy": stats["n_correct"] / stats["n_tokens"],
        "example_loss": stats["example_loss"],
        "example_accuracy": stats["example_accuracy"],
    }
