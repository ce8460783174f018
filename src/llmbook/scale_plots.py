"""Scale and data: parameters against training tokens, tokens per parameter, and the scaling laws.

The figures and small computations of the chapter "Scale and data". Functions take the
DataFrames returned by ``llmbook.catalog.load`` and never read files. Every allocation rule and
loss law comes from :mod:`llmbook.scaling`, except Kaplan et al. 2020's compute-efficient frontier,
which that module does not hold and which is defined here (:data:`KAPLAN_2020`).

Units: ``params`` N in parameters, ``tokens`` D in tokens, ``flops`` C in FLOPs with C = 6·N·D
(:func:`llmbook.compute.training_flops`), loss in nats per token.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from llmbook import compute, cost_views, scaling, style
from llmbook.compute import PFLOP_S_DAY, _positive

#: An allocation rule: compute budget C (FLOPs) -> (N_opt parameters, D_opt tokens).
Allocation = Callable[[float], tuple[float, float]]


@dataclass(frozen=True)
class KaplanFrontier:
    """Kaplan et al. 2020's compute-efficient frontier, N_opt = N_e·C^p_N and D_opt = D_e·C^p_D.

    C is C_min, the compute of training at the critical batch size, in petaflop/s-days; N counts
    non-embedding parameters; D is tokens processed (one epoch).
    """

    n_e: float
    p_n: float
    d_e: float
    p_d: float
    source: str

    def optimal(self, flops: float) -> tuple[float, float]:
        """(N_opt, D_opt) for a budget of ``flops`` FLOPs (converted to PF-days)."""
        _positive(flops=flops)
        c_min = float(flops) / PFLOP_S_DAY
        return self.n_e * c_min**self.p_n, self.d_e * c_min**self.p_d

    def six_nd_over_budget(self, flops: float = PFLOP_S_DAY) -> float:
        """6·N_opt·D_opt / C: 1 if the two rounded power laws were consistent with C = 6ND."""
        params, tokens = self.optimal(flops)
        return compute.training_flops(params, tokens) / float(flops)


#: Kaplan et al. 2020, Appendix A, Table 6 ("compute-efficient value", with C_min in PF-days):
#: N_opt = 1.3e9 · C_min^0.73 parameters and D_opt = 2e10 · C_min^0.27 tokens (1 epoch). The
#: N_opt law is §6.1 Eq. (6.1) and the fit drawn in Figure 14 (left), "N = (1.3·10^9)·C_min^0.73".
KAPLAN_2020 = KaplanFrontier(
    n_e=1.3e9,
    p_n=0.73,
    d_e=2e10,
    p_d=0.27,
    source="kaplan2020scaling: Appendix A Table 6; §6.1 Eq. 6.1 and Figure 14",
)

#: The allocation rules compared in the chapter, in legend order.
ALLOCATIONS: dict[str, Allocation] = {
    "Kaplan et al. 2020 (Table 6)": KAPLAN_2020.optimal,
    "Chinchilla Approach 1 (Table 3)": scaling.approach1,
    "Chinchilla Approach 3 (published fit)": scaling.CHINCHILLA_2022.optimal,
    "Approach 3, Epoch AI refit": scaling.EPOCH_2024.optimal,
}
#: Line style of each allocation rule: (colour, dash pattern).
ALLOCATION_STYLES = {
    "Kaplan et al. 2020 (Table 6)": (style.PALETTE[5], (0, (5, 2))),
    "Chinchilla Approach 1 (Table 3)": (style.PALETTE[7], "-"),
    "Chinchilla Approach 3 (published fit)": (style.PALETTE[0], (0, (6, 2, 1, 2))),
    "Approach 3, Epoch AI refit": (style.PALETTE[2], "-"),
}
#: Names of the two loss laws of llmbook.scaling.LAWS, for tables and legends.
LAW_NAMES = {"chinchilla": "Chinchilla 2022 (published)", "epoch": "Epoch AI 2024 refit"}

#: The base models the source article compares in its section on choosing a base model (GLM,
#: LLaMA, MOSS, BLOOM, CPM, Wenzhong), mapped to the rows of ``data/models.csv`` they name.
ARTICLE_CANDIDATES: dict[str, tuple[str, ...]] = {
    "GLM": ("GLM-130B",),
    "LLaMA": ("LLaMA-7B", "LLaMA-13B", "LLaMA-33B", "LLaMA-65B"),
    "MOSS": ("moss-moon-003-base",),
    "BLOOM": ("BLOOM-176B",),
    "CPM": ("CPM 2.6B",),
    "Wenzhong": ("Wenzhong2.0-GPT2-3.5B",),
}

CANDIDATE_COLOUR = style.PALETTE[1]
OTHER_COLOUR = style.PALETTE[4]
#: Models named in the parameters-tokens figure besides the candidates: the two reference points
#: of the Chinchilla argument.
REFERENCE_MODELS = ("Chinchilla-70B", "GPT-3 175B", "Gopher-280B")
#: Relative margin below the ratio before a model counts as under-trained, so that a model at the
#: ratio up to floating-point rounding (Chinchilla-70B itself, 1.4T / 70B) is not.
UNDERTRAINED_TOLERANCE = 1e-6


def candidate_of(model: str) -> str:
    """The article's candidate name for a catalog row ("" if the row is not a candidate)."""
    return next((name for name, rows in ARTICLE_CANDIDATES.items() if model in rows), "")


def chinchilla_tokens_per_param(flops: float) -> float:
    """D_opt / N_opt of Chinchilla's Approach 1 at ``flops`` (Hoffmann et al. 2022, Table 3).

    With N_opt and D_opt both ∝ C^0.50 the ratio is the same at every budget: about 20.
    """
    params, tokens = scaling.approach1(flops)
    return tokens / params


def scale_table(models: pd.DataFrame, ratio: float | None = None) -> pd.DataFrame:
    """One row per model that publishes both its size and its training tokens.

    Columns: model, stage, architecture, moe, candidate (the article's name, or ""), params,
    tokens, tokens_per_param (D/N), active_params (cost_views.active_params: the parameters a token
    uses, NaN for a mixture of experts without its count), tokens_per_active_param, flops
    (6·N_active·D, NaN where N_active is unknown), and undertrained (D/N below ``ratio`` by more
    than UNDERTRAINED_TOLERANCE; ``ratio`` defaults to Chinchilla Approach 1's). Sorted by tokens
    per parameter.
    """
    ratio = chinchilla_tokens_per_param(1e23) if ratio is None else ratio
    rows = models[models["params"].notna() & models["train_tokens"].notna()]
    params = rows["params"].astype(float)
    tokens = rows["train_tokens"].astype(float)
    table = pd.DataFrame(
        {
            "model": rows["model"].astype(str),
            "stage": rows["stage"].astype(str),
            "architecture": rows["architecture"].astype(object).fillna("").astype(str),
            "moe": rows["moe"].astype(object).fillna(False).astype(bool),
            "candidate": rows["model"].map(candidate_of),
            "params": params,
            "tokens": tokens,
            "tokens_per_param": [
                scaling.tokens_per_param(n, d) for n, d in zip(params, tokens, strict=True)
            ],
        }
    )
    # a mixture of experts without its active count is not costed (NaN)
    active = [cost_views.active_params(row)[0] for _, row in rows.iterrows()]
    table["active_params"] = [float("nan") if n is None else n for n in active]
    table["tokens_per_active_param"] = table["tokens"] / table["active_params"]
    table["flops"] = [
        compute.training_flops(n, d) if n == n else float("nan")
        for n, d in zip(table["active_params"], tokens, strict=True)
    ]
    table["undertrained"] = table["tokens_per_param"] < ratio * (1 - UNDERTRAINED_TOLERANCE)
    return table.sort_values(["tokens_per_param", "model"]).reset_index(drop=True)


def missing_candidates(models: pd.DataFrame) -> list[str]:
    """Catalog rows of the article's candidates whose size or training tokens is not published."""
    known = set(models.loc[models["params"].notna() & models["train_tokens"].notna(), "model"])
    return [row for rows in ARTICLE_CANDIDATES.values() for row in rows if row not in known]


def allocation_for_params(
    allocate: Allocation, params: float, low: float = 1e10, high: float = 1e35
) -> tuple[float, float, float]:
    """(C, N, D): the budget at which ``allocate`` makes a model of ``params`` compute-optimal.

    Inverts C -> N_opt(C), which every rule here makes increasing, by bisection on log10 C
    between ``low`` and ``high`` FLOPs; returns the budget and the rule's (N_opt, D_opt) there.
    """
    _positive(params=params)
    lo, hi = math.log10(low), math.log10(high)
    if not allocate(10**lo)[0] <= params <= allocate(10**hi)[0]:
        raise ValueError(f"params={params!r} is outside the rule's range on [{low}, {high}] FLOPs")
    for _ in range(200):
        mid = (lo + hi) / 2
        if allocate(10**mid)[0] < params:
            lo = mid
        else:
            hi = mid
    flops = 10 ** ((lo + hi) / 2)
    n_opt, d_opt = allocate(flops)
    return flops, n_opt, d_opt


def allocation_table(budgets: list[float]) -> pd.DataFrame:
    """Tokens per parameter, D_opt / N_opt, that each rule of ALLOCATIONS gives at ``budgets``."""
    return pd.DataFrame(
        {
            name: [allocate(c)[1] / allocate(c)[0] for c in budgets]
            for name, allocate in ALLOCATIONS.items()
        },
        index=pd.Index([f"{c:.0e} FLOPs" for c in budgets], name="budget"),
    )


def growth_per_decade(allocate: Allocation, flops: float = 1e23) -> tuple[float, float]:
    """(N factor, D factor) by which a rule grows N_opt and D_opt when the budget grows 10×."""
    n1, d1 = allocate(flops)
    n2, d2 = allocate(10 * flops)
    return n2 / n1, d2 / d1


def loss_table(table: pd.DataFrame) -> pd.DataFrame:
    """Predicted final loss of each dense model of :func:`scale_table` under both loss laws.

    For each law of ``llmbook.scaling.LAWS``: L(N, D), and the excess over the law's minimum at
    the same budget C = 6ND, L(N, D) - L(N_opt(C), D_opt(C)) (nats per token, >= 0). Mixture-of-
    experts rows are left out: the laws were fitted on dense models, and 6ND with total
    parameters is not their compute.
    """
    dense = table[~table["moe"]]
    out = dense[["model", "architecture", "params", "tokens", "tokens_per_param", "flops"]].copy()
    for key, law in scaling.LAWS.items():
        losses, excess = [], []
        for n, d, c in zip(dense["params"], dense["tokens"], dense["flops"], strict=True):
            loss = law.loss(n, d)
            losses.append(loss)
            excess.append(loss - law.loss(*law.optimal(c)))
        out[f"loss {key}"] = losses
        out[f"excess {key}"] = excess
    return out.reset_index(drop=True)


#: Short names of the laws for the loss table's headings (the figures use ``LAW_NAMES``).
LAW_SHORT_NAMES = {"chinchilla": "2022 fit", "epoch": "2024 refit"}


def display_loss_table(losses: pd.DataFrame) -> pd.DataFrame:
    """The reader-facing loss table: sizes in billions to three significant figures, losses to
    three decimals (nats per token), the laws by their short names (``LAW_SHORT_NAMES``).

    Nine columns, so the table keeps to the text column: the architecture is left out (the
    laws take only N and D, and every row is dense).
    """
    table = pd.DataFrame(
        {
            "model": losses["model"],
            "params (B)": losses["params"] / 1e9,
            "tokens (B)": losses["tokens"] / 1e9,
            "tokens per param": losses["tokens_per_param"],
            "6ND (FLOPs)": losses["flops"],
        }
    )
    out = pd.DataFrame(index=table.index)
    for name, column in table.items():
        if name == "6ND (FLOPs)":
            out[name] = [f"{float(v):.3g}" for v in column]
        elif pd.api.types.is_numeric_dtype(column):
            # three significant digits, never an exponent: 1400 reads "1400", not "1.4e+03"
            out[name] = [f"{float(f'{float(v):.3g}'):g}" for v in column]
        else:
            out[name] = column.astype(str)
    for key, name in LAW_SHORT_NAMES.items():
        out[f"loss, {name} (nats)"] = [f"{v:.3f}" for v in losses[f"loss {key}"]]
        out[f"excess, {name} (nats)"] = [f"{abs(v):.3f}" for v in losses[f"excess {key}"]]
    return out


def token_claims(claims: pd.DataFrame, models: pd.DataFrame) -> pd.DataFrame:
    """The article's claims about training tokens, beside the catalog's value and D/N.

    Rows of ``claims`` whose field is ``train_tokens``; ``catalog tokens (B)`` and
    ``tokens/param`` come from the subject's row of ``models`` (empty where not published).
    """
    rows = claims[claims["field"] == "train_tokens"]
    facts = models.set_index("model")
    catalog_tokens, ratios = [], []
    for subject in rows["subject"]:
        n = facts["params"].get(subject, pd.NA)
        d = facts["train_tokens"].get(subject, pd.NA)
        catalog_tokens.append("" if pd.isna(d) else f"{float(d) / 1e9:g}")
        both = not (pd.isna(n) or pd.isna(d))
        ratios.append(f"{scaling.tokens_per_param(float(n), float(d)):.3g}" if both else "")
    return pd.DataFrame(
        {
            "claim": rows["claim"].astype(str),
            "subject": rows["subject"].astype(str),
            "the article says": rows["article_value"].astype(str),
            "verdict": rows["verdict"].astype(str),
            "catalog tokens (B)": catalog_tokens,
            "tokens/param": ratios,
        }
    ).reset_index(drop=True)


#: Multipliers of the suffixes the article writes after a count ("130B", "1.4T").
SUFFIXES = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


def amounts(text: str) -> list[float]:
    """Every count written as a number and a suffix in ``text``, in order.

    >>> amounts("a 130B model is estimated to need 4T tokens")
    [130000000000.0, 4000000000000.0]
    """
    pattern = r"(?<![\w.])(\d+(?:\.\d+)?)\s?([KMBT])(?![A-Za-z])"
    return [float(number) * SUFFIXES[suffix] for number, suffix in re.findall(pattern, text)]


def _budget_label(flops: float) -> str:
    exponent = int(round(math.log10(flops)))
    return f"$10^{{{exponent}}}$ FLOPs"


def frontier_figure(
    table: pd.DataFrame,
    budgets: tuple[float, ...] = (1e22, 1e23, 1e24, 1e25),
    xlim: tuple[float, float] = (1e9, 1.5e12),
    ylim: tuple[float, float] = (1e11, 4e13),
):
    """Parameters (x) against training tokens (y), log-log, with frontiers and iso-FLOP lines.

    Frontiers: (N_opt(C), D_opt(C)) of Chinchilla's Approach 1, its published Approach 3 fit
    and Epoch AI's refit, for C over the plotted range. Iso-FLOP lines: D = C / 6N for each of
    ``budgets``. Points: every row of ``table`` (hollow diamonds for mixture-of-experts models,
    drawn at total parameters); the article's candidates and REFERENCE_MODELS are named.
    """
    fig, ax = plt.subplots(figsize=(style.FIGURE_WIDTH_INCHES, 5.6))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    n_grid = np.geomspace(*xlim, 50)
    six = compute.TRAIN_FLOPS_PER_PARAM_TOKEN
    for c in budgets:
        ax.plot(n_grid, c / (six * n_grid), color="#999999", lw=0.8)
        # Label each line near the top edge, or at the left edge if it leaves the top first.
        x = max(c / (six * ylim[1] * 0.55), xlim[0] * 1.15)
        y = c / (six * x)
        (x0, y0), (x1, y1) = ax.transData.transform([(x, y), (x * 2, y / 2)])
        angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
        ax.annotate(
            _budget_label(c), (x, y), xytext=(2, 2), textcoords="offset points", fontsize=7,
            color="#666666", rotation=angle, rotation_mode="anchor",
        )  # fmt: skip
    c_grid = np.geomspace(1e19, 1e28, 200)
    for name, allocate in ALLOCATIONS.items():
        if name.startswith("Kaplan"):
            continue
        colour, dash = ALLOCATION_STYLES[name]
        points = np.array([allocate(c) for c in c_grid])
        ax.plot(points[:, 0], points[:, 1], color=colour, ls=dash, lw=1.6, label=name)
    dense = table[~table["moe"]]
    moe = table[table["moe"]]
    is_cand = dense["candidate"] != ""
    ax.scatter(
        dense.loc[~is_cand, "params"],
        dense.loc[~is_cand, "tokens"],
        s=22,
        color=OTHER_COLOUR,
        zorder=3,
        label="other models (catalog)",
    )
    ax.scatter(
        moe["params"],
        moe["tokens"],
        s=26,
        marker="D",
        facecolors="white",
        edgecolors=OTHER_COLOUR,
        linewidths=1.3,
        zorder=3,
        label="mixture of experts (total params)",
    )
    ax.scatter(
        dense.loc[is_cand, "params"],
        dense.loc[is_cand, "tokens"],
        s=40,
        color=CANDIDATE_COLOUR,
        edgecolors="black",
        linewidths=0.6,
        zorder=4,
        label="the article's candidates",
    )
    ax.set_xlabel("parameters N")
    ax.set_ylabel("training tokens D")
    fig.canvas.draw()
    named = table[(table["candidate"] != "") | table["model"].isin(REFERENCE_MODELS)]
    style.label_points(
        ax, named["params"].tolist(), named["tokens"].tolist(), named["model"].tolist(), 7
    )
    fig.legend(loc="lower center", ncols=3, fontsize=7.5, bbox_to_anchor=(0.5, 0))
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def tokens_per_param_figure(table: pd.DataFrame, ratio: float):
    """Horizontal bars of D/N per model (log scale), sorted, with a vertical line at ``ratio``.

    The article's candidates are coloured; mixture-of-experts rows are hatched (total params)
    and carry a marker at their tokens per *active* parameter, the ratio their compute follows.
    """
    rows = table.sort_values(["tokens_per_param", "model"], ascending=[False, True])
    height = 1.2 + 0.16 * len(rows)
    fig, ax = plt.subplots(figsize=(style.FIGURE_WIDTH_INCHES, height))
    colours = [CANDIDATE_COLOUR if c else OTHER_COLOUR for c in rows["candidate"]]
    bars = ax.barh(rows["model"], rows["tokens_per_param"], color=colours, height=0.7)
    for bar, moe in zip(bars, rows["moe"], strict=True):
        if moe:
            bar.set_hatch("////")
            bar.set_edgecolor("white")
    for y, value in enumerate(rows["tokens_per_param"]):
        text = f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
        ax.annotate(
            text, (value, y), xytext=(3, 0), textcoords="offset points", va="center",
            fontsize=6.5, color="#333333",
        )  # fmt: skip
    # scale_table's tokens per active parameter, marked for the mixtures of experts only
    shown_active = (
        rows["tokens_per_active_param"].where(rows["moe"].astype(bool)).astype(float).to_numpy()
    )
    marked = np.isfinite(shown_active)
    if marked.any():
        ax.scatter(shown_active[marked], np.arange(len(rows))[marked], marker="D", s=14,
                   color="black", zorder=3)  # fmt: skip
    ax.axvline(ratio, color="black", lw=1.2)
    ax.annotate(
        f"Chinchilla Approach 1: {ratio:.0f} tokens per parameter",
        (ratio, len(rows) - 0.5),
        xytext=(4, 0),
        textcoords="offset points",
        fontsize=7.5,
        va="top",
    )
    ax.set_xscale("log")
    ax.set_xlim(0.5, np.nanmax([rows["tokens_per_param"].max(), *shown_active]) * 3)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("training tokens per parameter, D / N (log scale)")
    from matplotlib.patches import Patch

    handles = [
        Patch(color=CANDIDATE_COLOUR, label="the article's candidates"),
        Patch(color=OTHER_COLOUR, label="other models"),
        Patch(facecolor=OTHER_COLOUR, hatch="////", edgecolor="white", label="mixture of experts"),
    ]
    if marked.any():
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], marker="D", color="black", linestyle="none", markersize=4,
                              label="MoE: tokens per active parameter"))  # fmt: skip
    ax.legend(handles=handles, loc="upper right", bbox_to_anchor=(1, 0.96), fontsize=7.5)
    fig.tight_layout()
    return fig


def allocation_figure(
    table: pd.DataFrame | None = None, flops_range: tuple[float, float] = (1e19, 1e26)
):
    """Two panels: N_opt(C) (left) and D_opt(C) (right) under every rule of ALLOCATIONS.

    If ``table`` is given, its candidate rows are drawn at (6ND, N) and (6ND, D).
    """
    c_grid = np.geomspace(*flops_range, 100)
    fig, axes = plt.subplots(1, 2, figsize=(style.FIGURE_WIDTH_INCHES, 3.9), sharex=True)
    for name, allocate in ALLOCATIONS.items():
        colour, dash = ALLOCATION_STYLES[name]
        points = np.array([allocate(c) for c in c_grid])
        for k, ax in enumerate(axes):
            ax.plot(c_grid, points[:, k], color=colour, ls=dash, lw=1.6, label=name)
    if table is not None:
        cand = table[table["candidate"] != ""]
        for k, column in enumerate(("params", "tokens")):
            axes[k].scatter(
                cand["flops"], cand[column], s=30, color=CANDIDATE_COLOUR, edgecolors="black",
                linewidths=0.6, zorder=4, label="the article's candidates (6ND)",
            )  # fmt: skip
    for ax, what in zip(axes, ("parameters $N_{opt}$", "training tokens $D_{opt}$"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training compute C (FLOPs)")
        ax.set_ylabel(what)
    axes[0].set_title("model size", fontsize=10)
    axes[1].set_title("training tokens", fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncols=3, fontsize=7.5, bbox_to_anchor=(0.5, 0))
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    return fig


def isoflop_figure(table: pd.DataFrame, names: tuple[str, ...], span: float = 30.0):
    """Predicted loss along iso-FLOP lines through chosen models, one panel per loss law.

    For each model of ``names`` (rows of ``table``), C = 6ND is held fixed and the loss
    L(N', C / 6N') is drawn for N' within a factor ``span`` of the law's N_opt(C); the model's
    own (N, L(N, D)) is a filled dot and the curve's minimum an open circle.
    """
    rows = table.set_index("model").loc[list(names)]
    fig, axes = plt.subplots(1, 2, figsize=(style.FIGURE_WIDTH_INCHES, 3.9))
    for ax, (key, law) in zip(axes, scaling.LAWS.items(), strict=True):
        for colour, (model, row) in zip(style.PALETTE, rows.iterrows(), strict=False):
            c = row["flops"]
            n_opt, d_opt = law.optimal(c)
            lo = min(n_opt, row["params"]) / span
            hi = max(n_opt, row["params"]) * span
            grid = np.geomspace(lo, hi, 120)
            losses = [law.loss(n, c / (compute.TRAIN_FLOPS_PER_PARAM_TOKEN * n)) for n in grid]
            ax.plot(grid, losses, color=colour, lw=1.3, label=f"{model} ({c:.1e} FLOPs)")
            ax.scatter([row["params"]], [law.loss(row["params"], row["tokens"])], color=colour,
                       s=28, zorder=4)  # fmt: skip
            ax.scatter([n_opt], [law.loss(n_opt, d_opt)], facecolors="white", edgecolors=colour,
                       s=28, zorder=4)  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("parameters N (D = C / 6N)")
        ax.set_ylabel("predicted loss (nats/token)")
        ax.set_title(LAW_NAMES[key], fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncols=3, fontsize=7, bbox_to_anchor=(0.5, 0))
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    return fig
