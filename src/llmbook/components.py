"""Transformer components, small enough to compute by hand: masks, positions, norms, MLPs.

The architecture chapter runs every claim it makes about a component on a few numbers. This
module holds those computations (pure numpy functions) and the chapter's figures. It reuses the
building blocks of :mod:`llmbook.smollm` (``rms_norm``, ``rope_angles``, ``apply_rope``,
``silu``) and the parameter counts of :mod:`llmbook.architecture`; nothing here loads weights.

Sources of the formulas (keys of ``book/references.bib``):

- attention masks of causal, prefix and encoder-decoder models, GLM's blank infilling with its
  2D positions (``du2022glm`` §2.1-2.2), UniLM's sequence-to-sequence mask (``dong2019unified``);
- rotary position embedding (``su2021roformer``), ALiBi slopes 2^(-8i/h) and their rule for a head
  count that is not a power of two (``press2021train``; ``huggingface2022modelingbloom``,
  ``build_alibi_tensor``, which BLOOM's 112 heads need);
- LayerNorm and RMSNorm (``zhang2019root``), GLU feed-forward blocks (``shazeer2020glu``);
- DeepNorm's residual scale: α = (2N)^(1/4) for a decoder-only DeepNet (``wang2022deepnet``; the
  authors' ``torchscale`` code), α = (2N)^(1/2) in THUDM's GLM-130B code
  (``thudm2023satglm130b``);
- OPT's released checkpoints as the Hugging Face implementation builds them: output head tied
  to the token embedding, two extra rows in the learned position table
  (``huggingface2022modelingopt``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from llmbook import style
from llmbook.architecture import Shape, norm_params, param_counts
from llmbook.smollm import apply_rope, rms_norm, rope_angles, silu

# ----------------------------------------------------------------------------------------------
# Attention masks

#: Mask kinds :func:`attention_mask` draws. ``encoder-decoder`` is the prefix pattern seen as one
#: matrix (encoder rows over the source, decoder rows over source and target).
MASK_KINDS = ("causal", "bidirectional", "prefix", "encoder-decoder")


def attention_mask(kind: str, n: int, prefix: int = 0) -> np.ndarray:
    """Which key (column) each query (row) may attend to: an ``(n, n)`` boolean matrix.

    - ``causal``: token i sees tokens 0..i (GPT, OPT, LLaMA, BLOOM);
    - ``bidirectional``: every token sees every token (BERT, an encoder);
    - ``prefix``: the first ``prefix`` tokens see each other in both directions and nothing
      after them; later tokens see the whole prefix and, causally, the tokens before them
      (prefix LM; GLM's Part A / Part B; UniLM's sequence-to-sequence mask);
    - ``encoder-decoder``: a source of ``prefix`` tokens and a target of ``n - prefix`` tokens
      drawn as one matrix: encoder self-attention over the source, decoder self-attention
      (causal) over the target, cross-attention from every target token to the whole source.
      The boolean pattern is the prefix pattern; the difference is that an encoder-decoder
      computes the two diagonal blocks and the cross block with separate weights.
    """
    if kind not in MASK_KINDS:
        raise ValueError(f"unknown mask kind {kind!r}; choose one of {MASK_KINDS}")
    if n <= 0 or not 0 <= prefix <= n:
        raise ValueError(f"need n > 0 and 0 <= prefix <= n, got n={n}, prefix={prefix}")
    if kind == "bidirectional":
        return np.ones((n, n), dtype=bool)
    mask = np.tril(np.ones((n, n), dtype=bool))
    if kind in ("prefix", "encoder-decoder"):
        mask[:, :prefix] = True  # everyone sees the whole prefix (source)
        mask[:prefix, prefix:] = False  # the prefix never sees what follows it
    return mask


@dataclass(frozen=True)
class BlankInfilling:
    """One GLM training example: input tokens, what each position predicts, two position ids.

    ``tokens`` is Part A (the corrupted text) followed by Part B (the spans, each opened by
    ``[S]``). ``targets[i]`` is the token position i is trained to predict (``None`` in Part A,
    which is context only). ``position`` is the position in the corrupted text (a span's tokens
    all carry the position of its ``[M]``); ``block_position`` counts within a span from 1 and is
    0 in Part A. ``mask`` is the self-attention mask (``prefix`` pattern with prefix = Part A).
    """

    tokens: tuple[str, ...]
    targets: tuple[str | None, ...]
    position: np.ndarray
    block_position: np.ndarray
    part_a: int
    mask: np.ndarray


MASK_TOKEN, START_TOKEN, END_TOKEN = "[M]", "[S]", "[E]"


def glm_blank_infilling(
    tokens: Sequence[str], spans: Sequence[tuple[int, int]], order: Sequence[int] | None = None
) -> BlankInfilling:
    """Lay out GLM's autoregressive blank infilling for ``tokens`` (du2022glm §2.1-2.2).

    ``spans`` are ``(start, length)`` pairs (0-based, non-overlapping); each is replaced by one
    ``[M]`` in Part A. Part B holds the spans in ``order`` (default: left to right; GLM samples a
    random permutation), each as ``[S]`` + its tokens, trained to predict its tokens + ``[E]``.
    Positions count from 0 in Part A; a span's tokens take the position of their ``[M]`` and a
    block position 1, 2, ... (as THUDM's code numbers them).
    """
    spans = sorted((int(s), int(n)) for s, n in spans)
    for (s1, n1), (s2, _) in zip(spans, spans[1:], strict=False):
        if s1 + n1 > s2:
            raise ValueError(f"spans overlap: {spans}")
    if any(n < 1 or s < 0 or s + n > len(tokens) for s, n in spans):
        raise ValueError(f"spans {spans} do not fit {len(tokens)} tokens")
    order = list(range(len(spans))) if order is None else list(order)
    if sorted(order) != list(range(len(spans))):
        raise ValueError(f"order {order} is not a permutation of the {len(spans)} spans")
    part_a: list[str] = []
    mask_position = []  # position of each span's [M] in Part A
    cursor = 0
    for start, length in spans:
        part_a += tokens[cursor:start]
        mask_position.append(len(part_a))
        part_a.append(MASK_TOKEN)
        cursor = start + length
    part_a += tokens[cursor:]
    inputs, targets = list(part_a), [None] * len(part_a)
    position, block = list(range(len(part_a))), [0] * len(part_a)
    for index in order:
        start, length = spans[index]
        span = list(tokens[start : start + length])
        inputs += [START_TOKEN, *span]
        targets += [*span, END_TOKEN]
        position += [mask_position[index]] * (length + 1)
        block += list(range(1, length + 2))
    n = len(inputs)
    return BlankInfilling(
        tuple(inputs),
        tuple(targets),
        np.array(position),
        np.array(block),
        len(part_a),
        attention_mask("prefix", n, prefix=len(part_a)),
    )


# ----------------------------------------------------------------------------------------------
# Positions: RoPE and ALiBi


def rope_scores(
    q: np.ndarray,
    k: np.ndarray,
    query_positions: Sequence[int],
    key_positions: Sequence[int],
    base: float = 10000.0,
) -> np.ndarray:
    """Dot products of ``q`` rotated to each query position with ``k`` rotated to each key position.

    ``q`` and ``k`` are single head vectors of even width; the result is
    ``(len(query_positions), len(key_positions))``. RoPE turns each pair of dimensions by
    position × frequency (su2021roformer), so q·k depends on the two positions only through
    their difference: ``rope_scores(..., m, n) == rope_scores(..., m + s, n + s)`` up to rounding.
    Uses :func:`llmbook.smollm.rope_angles` and :func:`llmbook.smollm.apply_rope`.
    """
    q = np.asarray(q, dtype=np.float32)
    k = np.asarray(k, dtype=np.float32)
    if q.shape != k.shape or q.ndim != 1 or q.shape[0] % 2:
        raise ValueError("q and k must be vectors of the same even width")
    dim = q.shape[0]
    qp, kp = np.asarray(query_positions), np.asarray(key_positions)
    q_rot = apply_rope(np.broadcast_to(q, (len(qp), 1, dim)).copy(), *rope_angles(qp, dim, base))
    k_rot = apply_rope(np.broadcast_to(k, (len(kp), 1, dim)).copy(), *rope_angles(kp, dim, base))
    return q_rot[:, 0, :].astype(np.float64) @ k_rot[:, 0, :].astype(np.float64).T


def alibi_slopes(n_heads: int) -> np.ndarray:
    """ALiBi's per-head slopes (press2021train): m_i = 2^(-8i/h), i = 1..h, for h a power of 2.

    Otherwise, with p the largest power of two below h, the first p slopes are those of p heads
    and the remaining h - p are every other slope of 2p heads (2^(-8j/2p) for odd j), as in the
    reference code and Hugging Face's BLOOM (``build_alibi_tensor``). Unitless.
    """
    if n_heads < 1:
        raise ValueError("n_heads must be positive")
    p = 2 ** int(np.floor(np.log2(n_heads)))
    slopes = 2.0 ** (-8.0 * np.arange(1, p + 1) / p)
    if p == n_heads:
        return slopes
    extra = 2.0 ** (-8.0 * np.arange(1, 2 * (n_heads - p), 2) / (2 * p))
    return np.concatenate([slopes, extra])


def alibi_bias(n_heads: int, length: int) -> np.ndarray:
    """The bias ALiBi adds to attention scores: ``(n_heads, length, length)``, m_h · (j - i).

    Query i and key j ≤ i get -m_h · (i - j): zero on the diagonal, more negative the farther back
    the key. Entries above the diagonal (future keys) are set to -inf, as a causal model masks
    them. The bias has no parameters and is defined for any length.
    """
    i = np.arange(length)
    distance = (i[None, :] - i[:, None]).astype(float)  # j - i
    bias = alibi_slopes(n_heads)[:, None, None] * distance[None]
    bias[:, ~attention_mask("causal", length)] = -np.inf
    return bias


# ----------------------------------------------------------------------------------------------
# Normalisation and feed-forward blocks


def layer_norm(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, eps: float = 1e-5
) -> np.ndarray:
    """LayerNorm over the last axis: ``(x - mean) / sqrt(var + eps) * weight + bias``.

    It removes the mean (re-centring) and the scale (re-scaling) of each vector; RMSNorm
    (:func:`llmbook.smollm.rms_norm`) removes only the scale, so the two agree when the mean is 0
    and there is no bias (zhang2019root).
    """
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    out = (x - mean) / np.sqrt(var + eps) * weight
    return out if bias is None else out + bias


def rms_norm64(x: np.ndarray, weight: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """:func:`llmbook.smollm.rms_norm` in float64 (the smollm version keeps the input dtype)."""
    return rms_norm(np.asarray(x, dtype=np.float64), weight, eps)


def gelu(x: np.ndarray) -> np.ndarray:
    """GeLU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (as BLOOM)."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def mlp(x: np.ndarray, w_in: np.ndarray, w_out: np.ndarray, act: Callable = gelu) -> np.ndarray:
    """Plain feed-forward block: act(x W_in) W_out; 2·d·f weights."""
    return act(x @ w_in) @ w_out


def gated_mlp(
    x: np.ndarray,
    w_gate: np.ndarray,
    w_up: np.ndarray,
    w_down: np.ndarray,
    act: Callable = silu,
) -> np.ndarray:
    """GLU feed-forward block (shazeer2020glu): (act(x W_gate) ⊙ x W_up) W_down; 3·d·f weights.

    With ``act = silu`` (Swish with β = 1) this is SwiGLU; with GeLU it is GeGLU.
    """
    return (act(x @ w_gate) * (x @ w_up)) @ w_down


def glu_hidden_size(d_model: int, multiple_of: int = 1) -> int:
    """2/3 · 4d rounded up to a multiple of ``multiple_of``: the LLaMA paper's SwiGLU width rule.

    At f = (2/3)·4d a gated block's 3·d·f weights equal a plain block's 2·d·4d.
    """
    raw = 2 * 4 * d_model / 3
    return int(multiple_of * np.ceil(raw / multiple_of))


# ----------------------------------------------------------------------------------------------
# DeepNorm

#: Residual scales α(N) for N layers: DeepNet's rule for a decoder-only model (wang2022deepnet;
#: torchscale ``DecoderLayer``), its rule for the decoder of an encoder-decoder (α = (3M)^(1/4)),
#: and the square root in THUDM's GLM-130B code (``DeepNormWithGLUMixin``: (2N) ** 0.5).
DEEPNORM_ALPHA = {
    "DeepNet, decoder-only": lambda n: (2.0 * n) ** 0.25,
    "DeepNet, encoder-decoder (decoder)": lambda n: (3.0 * n) ** 0.25,
    "GLM-130B code": lambda n: (2.0 * n) ** 0.5,
}


def deepnorm_residual(
    x: np.ndarray, fx: np.ndarray, alpha: float, weight: np.ndarray | None = None
) -> np.ndarray:
    """Post-LN residual with DeepNorm's up-scaled shortcut: LayerNorm(α·x + f(x))."""
    x = np.asarray(x, dtype=np.float64)
    weight = np.ones(x.shape[-1]) if weight is None else weight
    return layer_norm(alpha * x + fx, weight)


def sublayer_step(alpha: float, d: int = 256, update_scale: float = 1.0, seed: int = 0) -> float:
    """How far one post-LN sublayer moves a normalised vector: ‖LN(αx + f) - x‖ / ‖x‖.

    ``x`` is a random unit-variance vector (already normalised, as in a post-LN stream) and ``f``
    an independent random update of standard deviation ``update_scale``. Larger α keeps the
    output closer to the input: the layer's update is damped by about 1/α.
    """
    rng = np.random.default_rng(seed)
    x = layer_norm(rng.standard_normal(d), np.ones(d))
    fx = update_scale * rng.standard_normal(d)
    out = deepnorm_residual(x, fx, alpha)
    return float(np.linalg.norm(out - x) / np.linalg.norm(x))


# ----------------------------------------------------------------------------------------------
# Parameter counts of released checkpoints that the shape table cannot express

#: OPT's learned position table has two extra rows (huggingface2022modelingopt:
#: ``OPTLearnedPositionalEmbedding``, "offset the embedding ids by 2").
OPT_POSITION_OFFSET = 2


def checkpoint_params(
    shape: Shape,
    *,
    tied: bool | None = None,
    linear_bias: bool | None = None,
    position_offset: int = 0,
    word_embed_dim: int | None = None,
    final_norm: bool = True,
    embedding_norm: bool = False,
) -> dict[str, int]:
    """:func:`llmbook.architecture.param_counts` plus the details a shape row does not hold.

    - ``tied`` / ``linear_bias`` override the row's cells (an empty cell means untied, no bias);
    - ``position_offset`` extra rows of learned positions, ``position_offset · d`` parameters;
    - ``word_embed_dim`` e ≠ d: tokens embedded at width e and projected in and out
      (V·e + 2·e·d instead of V·d; OPT-350M);
    - ``final_norm=False`` drops the final norm (a post-LN stack such as OPT-350M has none);
    - ``embedding_norm`` adds a norm after the embedding (BLOOM), ``norm_params`` parameters.
    """
    changes = {}
    if tied is not None:
        changes["tied_embeddings"] = tied
    if linear_bias is not None:
        changes["linear_bias"] = linear_bias
    shape = replace(shape, **changes)
    counts = dict(param_counts(shape))
    d, vocab = shape.d_model, shape.vocab_size
    counts["embedding"] += position_offset * d
    if word_embed_dim is not None and word_embed_dim != d:
        counts["embedding"] += vocab * (word_embed_dim - d) + 2 * word_embed_dim * d
        if counts["head"]:
            counts["head"] += vocab * (word_embed_dim - d)
    if not final_norm:
        counts["norm"] -= norm_params(shape)
    if embedding_norm:
        counts["norm"] += norm_params(shape)
    counts["total"] = sum(v for k, v in counts.items() if k != "total")
    return counts


# ----------------------------------------------------------------------------------------------
# The catalog's architecture choices over time

FEATURES = ("position_encoding", "norm", "activation", "attention")


def architecture_features(architectures: pd.DataFrame, models: pd.DataFrame) -> pd.DataFrame:
    """One row per shape row: model, family, release year and the four design choices."""
    meta = models.set_index("model")[["family", "released"]]
    table = architectures.set_index("model")[list(FEATURES)].join(meta, how="left")
    table["year"] = table["released"].dt.year.astype("Int64")
    return table.drop(columns="released").reset_index()


def feature_counts(features: pd.DataFrame, feature: str) -> pd.DataFrame:
    """Families per release year and value of ``feature`` (a family counts once per year).

    Counting families rather than rows keeps nine OPT sizes from outweighing one BLOOM. Rows
    whose cell is empty are counted as "not stated".
    """
    if feature not in FEATURES:
        raise ValueError(f"feature must be one of {FEATURES}")
    cells = features[["family", "year", feature]].copy()
    cells[feature] = cells[feature].astype(object).where(cells[feature].notna(), "not stated")
    distinct = cells.drop_duplicates()
    table = distinct.groupby(["year", feature]).size().unstack(fill_value=0)
    order = table.sum().sort_values(ascending=False).index.tolist()
    if "not stated" in order:
        order = [v for v in order if v != "not stated"] + ["not stated"]
    return table[order].astype(int)


# ----------------------------------------------------------------------------------------------
# Figures


def masks_figure(panels: Sequence[tuple[str, np.ndarray, Sequence[str], int]]):
    """One heat map per ``(title, mask, token labels, prefix)``: filled = may attend.

    ``mask`` is boolean, or integer with 0 = masked, 1 = attends, 2 = attends through other
    weights (an encoder-decoder's cross-attention), drawn in a second colour. A dashed line
    separates the first ``prefix`` tokens (prefix, source or Part A) from the rest.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap(["#F2F2F2", style.PALETTE[0], style.PALETTE[2]])
    cols = 2 if len(panels) > 2 else len(panels)
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(style.FIGURE_WIDTH_INCHES * 0.8, 3.0 * rows), squeeze=False
    )
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, (title, mask, labels, prefix) in zip(axes.flat, panels, strict=False):
        n = mask.shape[0]
        ax.imshow(np.asarray(mask, dtype=int), cmap=cmap, vmin=0, vmax=2)
        ax.set_xticks(range(n), labels, rotation=90, fontsize=7.5)
        ax.set_yticks(range(n), labels, fontsize=7.5)
        ax.set_xticks(np.arange(-0.5, n, 1), minor=True)
        ax.set_yticks(np.arange(-0.5, n, 1), minor=True)
        ax.grid(which="minor", color="white", linewidth=0.8)
        ax.grid(which="major", visible=False)
        ax.tick_params(which="minor", length=0)
        ax.tick_params(length=0)
        if 0 < prefix < n:
            for line in (ax.axhline, ax.axvline):
                line(prefix - 0.5, color=style.PALETTE[5], linestyle="--", linewidth=1.2)
        ax.set_title(title, fontsize=9.5)
        ax.set_xlabel("key", fontsize=8)
        ax.set_ylabel("query", fontsize=8)
    fig.tight_layout()
    return fig


def rope_figure(scores: np.ndarray):
    """Heat map of RoPE scores over (query position, key position): constant along diagonals."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(style.FIGURE_WIDTH_INCHES * 0.62, 3.6))
    image = ax.imshow(scores, cmap="RdBu_r", vmin=-np.abs(scores).max(), vmax=np.abs(scores).max())
    ax.set_xlabel("key position n")
    ax.set_ylabel("query position m")
    ax.grid(False)
    fig.colorbar(image, ax=ax, label="q·k after rotation")
    fig.tight_layout()
    return fig


def alibi_figure(bias: np.ndarray, slopes: np.ndarray, context_length: int, heads: Sequence[int]):
    """Left: ALiBi bias matrix of one head. Right: bias against distance for several heads.

    The right panel runs past ``context_length`` (a model's training length) to show that the
    bias keeps its linear form there.
    """
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(
        1, 2, figsize=(style.FIGURE_WIDTH_INCHES, 3.0), gridspec_kw={"width_ratios": [1, 1.6]}
    )
    shown = np.where(np.isfinite(bias[heads[0]]), bias[heads[0]], np.nan)
    image = left.imshow(shown, cmap="viridis")
    left.set_title(f"head {heads[0] + 1}: slope {slopes[heads[0]]:g}", fontsize=9)
    left.set_xlabel("key position j")
    left.set_ylabel("query position i")
    left.grid(False)
    fig.colorbar(image, ax=left, shrink=0.8)
    distance = np.arange(0, 2 * context_length + 1)
    for h, colour in zip(heads, style.PALETTE, strict=False):
        right.plot(distance, -slopes[h] * distance, color=colour, label=f"head {h + 1}")
    right.axvline(context_length, color="black", linestyle="--", linewidth=1)
    right.annotate(
        f"training length {context_length}",
        (context_length, right.get_ylim()[0] * 0.5),
        xytext=(4, 0),
        textcoords="offset points",
        fontsize=7.5,
    )
    right.set_xlabel("distance i − j (tokens)")
    right.set_ylabel("bias added to the score")
    right.legend(fontsize=7.5)
    fig.tight_layout()
    return fig


def features_figure(counts: dict[str, pd.DataFrame]):
    """Stacked bars: families per release year for each value of each design choice."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(style.FIGURE_WIDTH_INCHES, 5.4), sharex=True)
    for ax, (feature, table) in zip(axes.flat, counts.items(), strict=True):
        bottom = np.zeros(len(table))
        years = table.index.astype(int)
        for value, colour in zip(table.columns, style.PALETTE, strict=False):
            if value == "not stated":
                colour = "#BBBBBB"
            ax.bar(years, table[value], bottom=bottom, color=colour, label=value, width=0.7)
            bottom += table[value].to_numpy()
        ax.set_title(feature.replace("_", " "), fontsize=9)
        ax.set_ylabel("families")
        ax.legend(fontsize=6.5, ncols=2, loc="upper left")
        ax.set_xticks(years)
        ax.set_ylim(0, bottom.max() * 1.4)
    fig.tight_layout()
    return fig
