"""Training compute: FLOPs, time on hardware, and utilisation.

Conventions: a multiply-add counts as 2 FLOPs; ``params`` is N (parameters), ``tokens`` is D
(training tokens); throughput is FLOP/s; ``mfu`` (model FLOPs utilisation) is achieved model
FLOP/s divided by the hardware's peak (Chowdhery et al. 2022, PaLM, Appendix B).
"""

from __future__ import annotations

from llmbook.architecture import Shape, active_params, attention_params, param_counts

#: Training FLOPs per parameter per token: forward 2 + backward 4 (Kaplan et al. 2020, §2.1).
TRAIN_FLOPS_PER_PARAM_TOKEN = 6
#: With full activation recomputation the forward pass runs twice: 2 + 2 + 4 = 8 per
#: parameter per token of *hardware* FLOPs (Korthikanti et al. 2022, §5; Chowdhery et al. 2022,
#: Appendix B on model vs hardware FLOPs).
TRAIN_FLOPS_PER_PARAM_TOKEN_RECOMPUTE = 8
SECONDS_PER_DAY = 86_400
#: One petaflop/s-day, the unit of Brown et al. 2020 (Table D.1): 1e15 FLOP/s for a day.
PFLOP_S_DAY = 1e15 * SECONDS_PER_DAY
TERA = 1e12


def _positive(**values: float) -> None:
    """Refuse non-positive inputs, naming the argument."""
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value!r}")


def _floats(*values) -> list[float]:
    """Python floats: products of catalog integers (numpy int64) would silently overflow."""
    return [float(v) for v in values]


def training_flops(params: float, tokens: float) -> float:
    """C = 6·N·D: training FLOPs of a transformer, attention excluded (Kaplan 2020 §2.1).

    For a mixture of experts N is the active parameter count (cost_views.active_params)."""
    _positive(params=params, tokens=tokens)
    params, tokens = _floats(params, tokens)
    return TRAIN_FLOPS_PER_PARAM_TOKEN * params * tokens


def hardware_flops(params: float, tokens: float, recompute: bool = True) -> float:
    """FLOPs the hardware executes: 8·N·D with full activation recomputation, else 6·N·D."""
    _positive(params=params, tokens=tokens)
    per = TRAIN_FLOPS_PER_PARAM_TOKEN_RECOMPUTE if recompute else TRAIN_FLOPS_PER_PARAM_TOKEN
    params, tokens = _floats(params, tokens)
    return per * params * tokens


def forward_flops_per_token_kaplan(shape: Shape, context: int) -> float:
    """Kaplan et al. 2020, Table 1: C_forward ≈ 2·N + 2·n_layer·n_ctx·d_attn per token.

    N is the non-embedding parameter count (the active one for a mixture of experts);
    d_attn = heads · head_dim; the second term is the attention-score and weighted-sum work,
    which 6·N·D leaves out.
    """
    _positive(context=context)
    d_attn = shape.heads * shape.n_head_dim
    counts = param_counts(shape)
    active_non_embedding = active_params(shape) - counts["embedding"] - counts["head"]
    return 2 * active_non_embedding + 2 * shape.layers * context * d_attn


def training_flops_per_token_chinchilla(shape: Shape, context: int) -> float:
    """Chinchilla (Hoffmann et al. 2022), Appendix F: forward FLOPs per token ×3 for training.

    Per sequence of length s, with d = d_model, q = heads·head_dim, f = ffn_dim, V = vocab:
    embeddings 2·s·V·d; per layer: key/query/value 2·3·s·d·q, logits 2·s²·q, softmax 3·h·s²,
    softmax @ values 2·s²·q, output projection 2·s·q·d, feed-forward 2·s·(2·d·f) (a gated
    block does a third d·f product: 2·s·3·d·f); final logits 2·s·d·V. The backward pass is
    twice the forward. Divided by s for a per-token figure.
    """
    _positive(context=context)
    s, d, q, V = context, shape.d_model, shape.heads * shape.n_head_dim, shape.vocab_size
    kv = shape.n_kv_heads * shape.n_head_dim
    ffn_matrices = 3 if shape.gated else 2
    scores = (
        2 * s * s * q  # query-key logits
        + 3 * shape.heads * s * s  # softmax
        + 2 * s * s * q  # softmax @ values
    )
    if shape.n_experts or shape.attention == "mla":
        # Mixture of experts / latent attention: each weight a token passes through is one
        # multiply-add (2 FLOPs): all attention projections, the routed experts it is sent to
        # (experts_per_token), the shared experts, the router.
        counts = param_counts(shape)
        used_ffn = counts["ffn"] - (counts["total"] - active_params(shape))
        linear = 2 * s * (shape.layers * attention_params(shape) + used_ffn)
        forward = 2 * s * V * d + shape.layers * scores + linear + 2 * s * d * V
        return 3 * forward / s
    per_layer = (
        2 * s * d * (q + 2 * kv)  # query, key, value projections
        + scores
        + 2 * s * q * d  # output projection
        + 2 * s * ffn_matrices * d * shape.n_ffn  # feed-forward
    )
    forward = 2 * s * V * d + shape.layers * per_layer + 2 * s * d * V
    return 3 * forward / s


def seconds(flops: float, chips: int, peak_flops_per_s: float, mfu: float) -> float:
    """Wall-clock seconds to execute ``flops`` on ``chips`` at utilisation ``mfu`` of peak."""
    _positive(flops=flops, chips=chips, peak_flops_per_s=peak_flops_per_s)
    if not 0 < mfu <= 1:
        raise ValueError(f"mfu must be in (0, 1], got {mfu!r}")
    flops, chips, peak_flops_per_s, mfu = _floats(flops, chips, peak_flops_per_s, mfu)
    return flops / (chips * peak_flops_per_s * mfu)


def implied_mfu(flops: float, chips: int, peak_flops_per_s: float, seconds_: float) -> float:
    """Utilisation at which ``chips`` do ``flops`` in ``seconds_`` (the inverse of seconds)."""
    _positive(flops=flops, chips=chips, peak_flops_per_s=peak_flops_per_s, seconds_=seconds_)
    flops, chips, peak_flops_per_s, seconds_ = _floats(flops, chips, peak_flops_per_s, seconds_)
    return flops / (chips * peak_flops_per_s * seconds_)


def seconds_from_token_rate(tokens: float, tokens_per_chip_s: float, chips: int) -> float:
    """Wall-clock seconds to process ``tokens`` at a measured per-chip token rate."""
    _positive(tokens=tokens, tokens_per_chip_s=tokens_per_chip_s, chips=chips)
    tokens, tokens_per_chip_s, chips = _floats(tokens, tokens_per_chip_s, chips)
    return tokens / (tokens_per_chip_s * chips)


def flops_per_s_from_token_rate(params: float, tokens_per_s: float) -> float:
    """Model FLOP/s achieved at a token rate: 6·N FLOPs per token (no attention term)."""
    _positive(params=params, tokens_per_s=tokens_per_s)
    params, tokens_per_s = _floats(params, tokens_per_s)
    return TRAIN_FLOPS_PER_PARAM_TOKEN * params * tokens_per_s


def pflop_s_days(flops: float) -> float:
    """FLOPs in petaflop/s-days (Brown et al. 2020's unit)."""
    return float(flops) / PFLOP_S_DAY


def chip_hours(chips: int, seconds_: float) -> float:
    """Accelerator-hours: chips × wall-clock hours."""
    return float(chips) * float(seconds_) / 3600


def run_cost(
    chips: int,
    usd_per_chip_hour: float,
    *,
    seconds_: float | None = None,
    tokens: float | None = None,
    tokens_per_chip_s: float | None = None,
) -> dict[str, float]:
    """The chain throughput -> wall-clock time -> chip-hours -> dollars, for one run.

    Give either the wall-clock ``seconds_`` a source reports, or ``tokens`` and a measured
    per-chip token rate ``tokens_per_chip_s`` (then :func:`seconds_from_token_rate` gives the
    time). ``usd_per_chip_hour`` is a rental price per accelerator-hour, with its provider, date
    and kind (on-demand, reserved, or a price the source itself assumed) kept by the caller.
    Returns ``seconds``, ``days``, ``chip_hours`` (:func:`chip_hours`) and ``usd``. Rental only:
    no purchase, power, storage, staff, or the failed and exploratory runs before the final one.
    """
    if (seconds_ is None) == (tokens is None and tokens_per_chip_s is None):
        raise ValueError("give either seconds_, or tokens and tokens_per_chip_s (not both)")
    if seconds_ is None:
        if tokens is None or tokens_per_chip_s is None:
            raise ValueError("tokens and tokens_per_chip_s go together: give both")
        seconds_ = seconds_from_token_rate(tokens, tokens_per_chip_s, chips)
    _positive(chips=chips, usd_per_chip_hour=usd_per_chip_hour, seconds_=seconds_)
    hours_ = chip_hours(chips, seconds_)
    return {
        "seconds": float(seconds_),
        "days": float(seconds_) / SECONDS_PER_DAY,
        "chip_hours": hours_,
        "usd": hours_ * float(usd_per_chip_hour),
    }
