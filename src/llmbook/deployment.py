"""Deployment plans: the memory to serve a model in each precision, and which GPU sets hold it.

Built on :mod:`llmbook.memory`; every byte count comes from its formulas:

- weights: N × bits per weight / 8 (:func:`llmbook.memory.weight_bytes`; plain int8/int4 count
  no scales, GPTQ checkpoints count their group scales and zero points (4.16 bits per weight at
  group size 128), GGUF types such as Q4_K their block scales (4.5 bits per weight));
- KV cache: 2 · layers · kv_heads · head_dim · bytes per value, per token and sequence
  (:func:`llmbook.memory.kv_cache_bytes`);
- fit: total ≤ count × memory_gb × (1 − reserve), in the vendor's decimal GB
  (:func:`llmbook.memory.fits`). A set of several GPUs is assumed to split the model evenly
  (tensor or pipeline parallelism) with nothing duplicated; ``reserve`` stands for the CUDA
  context, activations, allocator fragmentation and everything else the two formulas leave out.

Functions take the DataFrames of ``llmbook.catalog.load`` ("models", "architectures",
"hardware", "deployment_reports") and never read files themselves.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from llmbook import memory
from llmbook.architecture import Shape, param_counts

#: Weight formats of a serving plan, highest precision first (16, 8, 4.5 and 4 bits per weight).
SERVING_FORMATS = ("fp16", "int8", "Q4_K", "gptq-int4")
#: Reader-facing names of the formats (fp16 and bf16 both take 2 bytes per weight).
FORMAT_LABELS = {
    "fp16": "fp16/bf16",
    "int8": "int8",
    "Q4_K": "GGUF Q4_K",
    "gptq-int4": "int4 (GPTQ, group 128)",
    "int4": "int4",
}
#: Library format of each ``precision`` of the deployment_reports table: GPTQ checkpoints with
#: their group scales and zero points (:data:`llmbook.memory.GPTQ_GROUP`); a plain "int4" report
#: (a project's own quantiser) counts the weights alone.
REPORTED_FORMATS = {
    "fp32": "fp32",
    "fp16": "fp16",
    "bf16": "bf16",
    "fp8": "fp8",
    "int8": "int8",
    "int4": "int4",
    "gptq-int8": "gptq-int8",
    "gptq-int4": "gptq-int4",
}
GB = memory.GB
GIB = 2**30
NO_FIT = "none"


def shape_of(name: str, models: pd.DataFrame, shapes: pd.DataFrame) -> Shape | None:
    """The shape of ``name`` from the architectures table, else that of its ``base_model``.

    A fine-tuned model keeps the shape of the base it was tuned from. Returns None when neither
    row exists (the KV cache is then unknown, never guessed).
    """
    models = _indexed(models)
    shapes = _indexed(shapes)
    for candidate in (name, _base_of(name, models)):
        if candidate is not None and candidate in shapes.index:
            row = shapes.loc[candidate].to_dict()
            row["model"] = candidate
            return Shape.from_row(row)
    return None


def params_of(
    name: str, models: pd.DataFrame, shapes: pd.DataFrame, prefer: str = "reported"
) -> tuple[float, str]:
    """Parameter count of ``name`` and where it comes from.

    With ``prefer="reported"``, the catalog's published count (basis ``"reported"``) when there
    is one, otherwise the count of :func:`llmbook.architecture.param_counts` on the model's
    shape (``"from shape"``); ``prefer="shape"`` tries the shape first. Published counts are
    often rounded ("7B"); a shape count is exact only if the shape row is complete and right.
    Raises ValueError when neither is available.
    """
    if prefer not in ("reported", "shape"):
        raise ValueError(f"prefer must be 'reported' or 'shape', got {prefer!r}")
    models = _indexed(models)
    reported = None
    if name in models.index and not pd.isna(models.loc[name, "params"]):
        reported = float(models.loc[name, "params"])
    shape = shape_of(name, models, shapes)
    from_shape = None
    if shape is not None and shape.vocab_size is not None:
        from_shape = float(param_counts(shape)["total"])
    order = [(reported, "reported"), (from_shape, "from shape")]
    if prefer == "shape":
        order.reverse()
    for value, basis in order:
        if value is not None:
            return value, basis
    raise ValueError(f"{name}: no published parameter count and no complete shape")


def serving_bytes(
    params: float,
    shape: Shape | None,
    fmt: str,
    tokens: int,
    batch: int = 1,
    kv_fmt: str = "fp16",
) -> dict[str, float]:
    """Bytes to serve a model: ``weights`` in ``fmt``, ``kv_cache`` for ``batch`` sequences of
    ``tokens`` tokens in ``kv_fmt`` (NaN when ``shape`` is None) and their ``total`` (the
    weights alone when the cache is unknown)."""
    weights = memory.weight_bytes(params, fmt)
    kv = memory.kv_cache_bytes(shape, tokens, batch, kv_fmt) if shape is not None else math.nan
    return {"weights": weights, "kv_cache": kv, "total": weights + (0.0 if math.isnan(kv) else kv)}


def mixed_weight_bytes(
    params: float, fmt: str, unquantised_params: float, unquantised_fmt: str = "fp16"
) -> float:
    """Weights when only part of the model is quantised: ``unquantised_params`` stay in
    ``unquantised_fmt`` (embeddings, norms, biases in GLM-130B's INT4 scheme), the rest is in
    ``fmt``: (N − U) · bits(fmt)/8 + U · bits(unquantised_fmt)/8 bytes."""
    if not 0 <= unquantised_params <= params:
        raise ValueError(f"unquantised_params must be in [0, params], got {unquantised_params!r}")
    quantised = params - unquantised_params
    kept = memory.weight_bytes(unquantised_params, unquantised_fmt) if unquantised_params else 0.0
    return (memory.weight_bytes(quantised, fmt) if quantised else 0.0) + kept


def memory_plan(
    models: pd.DataFrame,
    shapes: pd.DataFrame,
    names: Iterable[str],
    tokens: int,
    batch: int = 1,
    formats: Sequence[str] = SERVING_FORMATS,
    kv_fmt: str = "fp16",
) -> pd.DataFrame:
    """One row per (model, weight format): parameters, weights, KV cache and total, in GB.

    Columns: model, params, params_basis, format, weights_gb, kv_cache_gb (NaN when the shape is
    unknown), total_gb, kv_known, tokens (the context priced). Models keep the order of
    ``names``.
    """
    rows = []
    for name in names:
        params, basis = params_of(name, models, shapes)
        shape = shape_of(name, models, shapes)
        for fmt in formats:
            parts = serving_bytes(params, shape, fmt, tokens, batch, kv_fmt)
            rows.append(
                {
                    "model": name,
                    "params": params,
                    "params_basis": basis,
                    "format": fmt,
                    "weights_gb": parts["weights"] / GB,
                    "kv_cache_gb": parts["kv_cache"] / GB,
                    "total_gb": parts["total"] / GB,
                    "kv_known": shape is not None,
                    "tokens": int(tokens),
                }
            )
    return pd.DataFrame(rows)


def tokens_label(tokens: int) -> str:
    """A context length for a column header: 32K for 32,768 tokens, else the count (2,000)."""
    return f"{tokens // 1024}K" if tokens % 1024 == 0 else f"{tokens:,}"


def plan_table(plan: pd.DataFrame, long_plan: pd.DataFrame | None = None) -> pd.DataFrame:
    """The reader-facing view of :func:`memory_plan`: one row per model, the total (weights +
    KV cache) of each format in GB, rounded to 0.1, plus the KV cache and the parameter basis.

    With ``long_plan`` (the same models planned at a longer context), two more columns give
    that context's KV cache and its 16-bit total, named after its length ("KV cache, 32K
    tokens (GB)", "fp16/bf16, 32K tokens (GB)").
    """
    wide = plan.pivot(index="model", columns="format", values="total_gb")
    wide = wide[[f for f in SERVING_FORMATS if f in wide.columns]]
    wide.columns = [f"{FORMAT_LABELS.get(f, f)} (GB)" for f in wide.columns]
    first = plan.drop_duplicates("model").set_index("model")
    out = pd.DataFrame(
        {
            "params (B)": (first["params"] / 1e9).round(2),
            "params from": first["params_basis"],
            "KV cache (GB)": first["kv_cache_gb"].round(2),
        }
    ).join(wide.round(1))
    if long_plan is not None:
        label = tokens_label(int(long_plan["tokens"].iloc[0]))
        long_first = long_plan.drop_duplicates("model").set_index("model")
        fp16 = long_plan[long_plan["format"] == SERVING_FORMATS[0]].set_index("model")
        out[f"KV cache, {label} tokens (GB)"] = long_first["kv_cache_gb"].round(2)
        out[f"{FORMAT_LABELS[SERVING_FORMATS[0]]}, {label} tokens (GB)"] = fp16["total_gb"].round(1)
    return out.loc[first.index]


@dataclass(frozen=True)
class GpuSet:
    """``count`` GPUs of one memory size, called ``name``; ``chips`` are the hardware rows the
    set stands for (all must state the same memory, e.g. A100 80GB and H100 SXM at 80 GB)."""

    name: str
    chips: tuple[str, ...]
    count: int = 1

    def __post_init__(self) -> None:
        if not self.chips:
            raise ValueError("a GPU set needs at least one chip")
        if not isinstance(self.count, int) or self.count < 1:
            raise ValueError(f"count must be a positive integer, got {self.count!r}")


#: The GPU sets the book plans for, from one consumer card to one 8-GPU server: the sizes a
#: team is likely to have or rent (the RTX 3090 with 24 GB, the consumer card whose memory NVIDIA
#: states; A100 80GB and both H100 variants 80 GB; H200 141 GB and B200 180 GB, from hardware.csv).
COMMON_GPU_SETS: tuple[GpuSet, ...] = (
    GpuSet("RTX 3090", ("RTX 3090",), 1),
    GpuSet("RTX 3090", ("RTX 3090",), 2),
    GpuSet("A100 40GB", ("A100 40GB",), 1),
    GpuSet("A100/H100 80GB", ("A100 80GB", "H100 SXM", "H100 PCIe"), 1),
    GpuSet("H200", ("H200",), 1),
    GpuSet("B200", ("B200",), 1),
    GpuSet("A100/H100 80GB", ("A100 80GB", "H100 SXM", "H100 PCIe"), 8),
)


def chip_memory_gb(gpu_set: GpuSet, hardware: pd.DataFrame) -> float:
    """Memory of one GPU of ``gpu_set`` from the hardware table (decimal GB).

    Raises ValueError if a chip is missing, has no memory figure, or the chips disagree.
    """
    hardware = _indexed(hardware, "chip")
    sizes = set()
    for chip in gpu_set.chips:
        if chip not in hardware.index or pd.isna(hardware.loc[chip, "memory_gb"]):
            raise ValueError(f"{gpu_set.name}: no memory_gb for chip {chip!r}")
        sizes.add(float(hardware.loc[chip, "memory_gb"]))
    if len(sizes) != 1:
        raise ValueError(f"{gpu_set.name}: chips state different memory sizes {sorted(sizes)}")
    return sizes.pop()


def gpu_set_label(gpu_set: GpuSet, hardware: pd.DataFrame) -> str:
    """The set as "count × name (total GB)", e.g. "2 × RTX 3090 (48 GB)"; the total comes
    from the hardware table."""
    total = gpu_set.count * chip_memory_gb(gpu_set, hardware)
    return f"{gpu_set.count} × {gpu_set.name} ({total:g} GB)"


def usable_gb(gpu_set: GpuSet, hardware: pd.DataFrame, reserve: float) -> float:
    """GB a set offers to weights and KV cache: count × memory × (1 − reserve)."""
    if not 0 <= reserve < 1:
        raise ValueError(f"reserve must be in [0, 1), got {reserve!r}")
    return gpu_set.count * chip_memory_gb(gpu_set, hardware) * (1 - reserve)


def best_format(
    totals_gb: dict[str, float],
    memory_gb: float,
    count: int = 1,
    reserve: float = 0.0,
    order: Sequence[str] = SERVING_FORMATS,
) -> str:
    """The first format of ``order`` (highest precision first) whose total fits, else "none"."""
    for fmt in order:
        if fmt in totals_gb and memory.fits(totals_gb[fmt] * GB, memory_gb, count, reserve):
            return fmt
    return NO_FIT


def fit_table(
    plan: pd.DataFrame, hardware: pd.DataFrame, gpu_sets: Sequence[GpuSet], reserve: float
) -> pd.DataFrame:
    """For each model (rows, plan order) and GPU set (columns, named by :func:`gpu_set_label`),
    the highest-precision format of the plan whose weights + KV cache fit, or "none"."""
    models = list(dict.fromkeys(plan["model"]))
    out = pd.DataFrame(index=pd.Index(models, name="model"))
    for gpu_set in gpu_sets:
        size = chip_memory_gb(gpu_set, hardware)
        column = []
        for name in models:
            rows = plan[plan["model"] == name]
            totals = dict(zip(rows["format"], rows["total_gb"], strict=True))
            column.append(best_format(totals, size, gpu_set.count, reserve))
        out[gpu_set_label(gpu_set, hardware)] = column
    return out


def compare_reports(
    reports: pd.DataFrame, models: pd.DataFrame, shapes: pd.DataFrame
) -> pd.DataFrame:
    """Each reported figure next to the library's: weights for "weights" rows, the KV cache for
    "kv cache" rows, weights + KV cache at the row's tokens (batch 1) otherwise (the weights
    alone when no token count is stated).

    Columns: model, precision, what, tokens, gpus, reported_gb, computed_gb, covers,
    reported_over_computed.
    """
    rows = []
    for _, row in reports.iterrows():
        name, fmt = row["model"], REPORTED_FORMATS[row["precision"]]
        params, _ = params_of(name, models, shapes)
        shape = shape_of(name, models, shapes)
        tokens = None if pd.isna(row["tokens"]) else int(row["tokens"])
        if row["what"] == "kv cache":
            if shape is None or tokens is None:
                computed, covers = math.nan, "KV cache (shape or tokens unknown)"
            else:
                computed = memory.kv_cache_bytes(shape, tokens, 1, fmt)
                covers = f"KV cache, {tokens:,} tokens"
        elif row["what"] == "weights" or tokens is None or shape is None:
            computed, covers = memory.weight_bytes(params, fmt), "weights"
        else:
            computed = serving_bytes(params, shape, fmt, tokens)["total"]
            covers = f"weights + KV cache, {tokens:,} tokens"
        rows.append(
            {
                "model": name,
                "precision": row["precision"],
                "what": row["what"],
                "tokens": row["tokens"],
                "gpus": row["gpus"],
                "reported_gb": float(row["memory_gb"]),
                "computed_gb": computed / GB,
                "covers": covers,
            }
        )
    out = pd.DataFrame(rows)
    out["reported_over_computed"] = out["reported_gb"] / out["computed_gb"]
    return out


# ---------------------------------------------------------------------------------------------
# Figures


#: Marker of each format in the memory figure.
FORMAT_MARKERS = {"fp16": "o", "int8": "s", "Q4_K": "D", "gptq-int4": "v", "int4": "v"}


def memory_figure(plan: pd.DataFrame, capacities: dict[str, float]):
    """Dot plot: one row per model (plan order, smallest at the bottom), total GB of each format
    on a log axis; dashed vertical lines at the usable GB of each GPU set in ``capacities``
    (label -> GB), labelled along their foot, where the small models leave the plot empty."""
    import matplotlib.pyplot as plt

    from llmbook import style

    style.use()
    models = list(dict.fromkeys(plan["model"]))
    fig, ax = plt.subplots(figsize=(style.FIGURE_WIDTH_INCHES, 0.27 * len(models) + 1.4))
    ypos = {name: i for i, name in enumerate(models)}
    for colour, fmt in zip(style.PALETTE, SERVING_FORMATS, strict=False):
        rows = plan[plan["format"] == fmt]
        if rows.empty:
            continue
        ax.scatter(
            rows["total_gb"],
            rows["model"].map(ypos),
            marker=FORMAT_MARKERS.get(fmt, "o"),
            s=26,
            color=colour,
            label=FORMAT_LABELS.get(fmt, fmt),
            zorder=3,
        )
    for label, gb in sorted(capacities.items(), key=lambda item: item[1]):
        ax.axvline(gb, color="#555555", lw=0.8, ls="--", zorder=1)
        ax.annotate(
            label,
            (gb, 0.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, 4),
            textcoords="offset points",
            rotation=90,
            fontsize=6.5,
            color="#333333",
            ha="left",
            va="bottom",
        )
    unknown = set(plan.loc[~plan["kv_known"], "model"])
    ax.set_yticks(range(len(models)))
    ax.set_yticklabels([f"{m} †" if m in unknown else m for m in models], fontsize=8)
    ax.set_xscale("log")
    style.plain_log_axis(ax.xaxis)
    ax.set_xlabel("GB to serve: weights + KV cache (log scale)")
    ax.grid(axis="y", alpha=0.15)
    ax.legend(loc="upper left", fontsize=8, frameon=True, framealpha=0.9)
    fig.tight_layout()
    return fig


def fit_figure(fits: pd.DataFrame):
    """Heat map of :func:`fit_table`: one cell per (model, GPU set), coloured by the
    highest-precision format that fits, labelled with its name ("—" when none fits)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap

    from llmbook import style

    style.use()
    order = [NO_FIT, *reversed(SERVING_FORMATS)]  # least to most precise
    colours = ["#F2F2F2", "#F0E442", "#E69F00", "#56B4E9", "#0072B2"][: len(order)]
    codes = fits.map(order.index).to_numpy(dtype=float)
    cmap = ListedColormap(colours)
    norm = BoundaryNorm(np.arange(len(order) + 1) - 0.5, cmap.N)
    fig, ax = plt.subplots(figsize=(style.FIGURE_WIDTH_INCHES, 0.27 * len(fits) + 1.6))
    ax.imshow(codes, cmap=cmap, norm=norm, aspect="auto")
    for (i, j), code in np.ndenumerate(codes):
        fmt = order[int(code)]
        text = "—" if fmt == NO_FIT else FORMAT_LABELS.get(fmt, fmt)
        dark = fmt == "fp16"
        ax.text(
            j, i, text, ha="center", va="center", fontsize=7, color="white" if dark else "black"
        )
    ax.set_xticks(range(fits.shape[1]))
    ax.set_xticklabels([c.replace(" (", "\n(") for c in fits.columns], fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(fits)))
    ax.set_yticklabels(fits.index, fontsize=8)
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xticks(np.arange(fits.shape[1] + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(len(fits) + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", lw=1.5)
    ax.tick_params(which="minor", length=0)
    fig.tight_layout()
    return fig


#: Marker of each kind of reported figure in the comparison figure.
WHAT_MARKERS = {
    "weights": "o",
    "kv cache": "D",
    "minimum for inference": "s",
    "measured in use": "^",
}


def comparison_figure(comparison: pd.DataFrame):
    """Reported GB against the library's GB (log-log), one colour per model, one marker per kind
    of figure; the diagonal is agreement, points above it are reports larger than the formula."""
    import matplotlib.pyplot as plt

    from llmbook import style

    style.use()
    data = comparison.dropna(subset=["computed_gb"])
    fig, ax = plt.subplots()
    models = list(dict.fromkeys(data["model"]))
    colours = dict(zip(models, style.PALETTE * 2, strict=False))
    for (name, what), rows in data.groupby(["model", "what"], sort=False):
        ax.scatter(
            rows["computed_gb"],
            rows["reported_gb"],
            color=colours[name],
            marker=WHAT_MARKERS.get(what, "o"),
            s=24,
            alpha=0.9,
            zorder=3,
        )
    low = min(data["computed_gb"].min(), data["reported_gb"].min()) / 1.5
    high = max(data["computed_gb"].max(), data["reported_gb"].max()) * 1.5
    ax.plot([low, high], [low, high], color="#000000", lw=0.8, zorder=2)
    ax.plot([low, high], [2 * low, 2 * high], color="#000000", lw=0.6, ls=":", zorder=2)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_xlabel("computed by the library (GB)")
    ax.set_ylabel("reported by the source (GB)")
    from matplotlib.lines import Line2D

    model_handles = [
        Line2D([], [], marker="o", ls="", color=colours[m], label=m, markersize=5) for m in models
    ]
    what_handles = [
        Line2D([], [], marker=mk, ls="", color="#555555", label=w, markersize=5)
        for w, mk in WHAT_MARKERS.items()
        if w in set(data["what"])
    ]
    first = ax.legend(handles=model_handles, loc="upper left", fontsize=7, title_fontsize=7)
    ax.add_artist(first)
    ax.legend(handles=what_handles, loc="lower right", fontsize=7)
    spot = low * 6
    ax.annotate(
        "equal",
        (spot, spot),
        xytext=(4, -4),
        textcoords="offset points",
        fontsize=7,
        ha="left",
        va="top",
    )
    ax.annotate(
        "2 ×",
        (spot, 2 * spot),
        xytext=(-4, 4),
        textcoords="offset points",
        fontsize=7,
        ha="right",
        va="bottom",
    )
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Helpers


def _indexed(frame: pd.DataFrame, key: str = "model") -> pd.DataFrame:
    return frame.set_index(key) if key in frame.columns else frame


def _base_of(name: str, models: pd.DataFrame) -> str | None:
    if name not in models.index or "base_model" not in models.columns:
        return None
    base = models.loc[name, "base_model"]
    return None if pd.isna(base) else str(base)


def serving_profile(
    params: float,
    shape: Shape,
    fmt: str,
    tokens: int,
    memory_gb: float,
    bandwidth_gb_s: float,
    batch: int = 1,
    kv_fmt: str = "fp16",
    reserve: float = 0.1,
) -> dict[str, float]:
    """Capacity against bandwidth for serving ``params`` weights of ``shape`` on one kind of chip.

    Capacity: ``chips`` = how many chips of ``memory_gb`` (keeping ``reserve`` free) hold all
    the weights (the total count: every expert must be resident) plus the KV cache of
    ``batch`` sequences of ``tokens``. Bandwidth: one decoding step reads the active weights
    once (memory.decode_bytes_per_token) and each sequence's cache; with the step spread over
    those chips, ``tokens_per_s_bound`` = chips · bandwidth / bytes read, per sequence. A mixture
    of experts needs many chips to hold but reads few bytes per token: capacity-bound,
    bandwidth-cheap. Returns bytes, ``chips`` and the bound.
    """
    weights = memory.weight_bytes(params, fmt)
    cache = memory.kv_cache_bytes(shape, tokens, batch, kv_fmt)
    usable = memory_gb * GB * (1 - reserve)
    chips = math.ceil((weights + cache) / usable)
    read = memory.decode_bytes_per_token(shape, fmt, params) + cache
    return {
        "weight_bytes": weights,
        "kv_cache_bytes": cache,
        "read_bytes_per_step": read,
        "read_share": read / (weights + cache),
        "chips": chips,
        "tokens_per_s_bound": chips * memory.decode_tokens_per_s_memory_bound(read, bandwidth_gb_s),
    }


def kv_context_figure(table: pd.DataFrame):
    """Line plot of KV-cache memory against context length, both on log axes: one line per row
    of ``table`` (bytes, one column per context in tokens, as
    :func:`llmbook.memory.kv_cache_by_context` returns), labelled at its right end. A cache that
    grows with every token is a line of slope one; a sliding window bends it down, a fixed state
    flattens it."""
    import matplotlib.pyplot as plt

    from llmbook import style

    style.use()
    fig, ax = plt.subplots(figsize=(style.FIGURE_WIDTH_INCHES, 4.2))
    tokens = np.asarray(table.columns, dtype=float)
    styles = ["-", "--", "-.", ":"]
    for i, (label, row) in enumerate(table.iterrows()):
        gb = np.asarray(row, dtype=float) / GB
        colour = style.PALETTE[i % len(style.PALETTE)]
        ax.plot(tokens, gb, styles[i % len(styles)], color=colour, marker="o", ms=3, label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(tokens)
    ax.set_xticklabels([tokens_label(int(t)) for t in tokens])
    ax.minorticks_off()
    style.plain_log_axis(ax.yaxis)
    ax.set_xlabel("context (tokens, log scale)")
    ax.set_ylabel("KV cache per sequence (GB, log scale)")
    ax.legend(fontsize=7.5, loc="upper left", frameon=True, framealpha=0.9)
    fig.tight_layout()
    return fig
