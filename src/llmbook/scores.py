"""Published benchmark scores, joined with what the catalog knows about each model.

A score is only comparable with another of the same *setting*: benchmark, split, number of
in-context examples (shots), chain-of-thought or not, and who ran the evaluation (prompts and
answer extraction differ between reporters). These helpers keep the setting attached to every
number and make mixing settings an explicit act.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from llmbook import compute

#: Columns that together define a setting.
SETTING = ("benchmark", "split", "shots", "cot", "reported_by")


def with_model_facts(scores: pd.DataFrame, models: pd.DataFrame) -> pd.DataFrame:
    """``scores`` with the model's ``params``, ``train_tokens``, ``released``, ``stage`` and the
    training compute ``training_flops = 6 N D`` (:func:`llmbook.compute.training_flops`) where
    both parameters and tokens are known."""
    facts = models.set_index("model")[["params", "train_tokens", "released", "stage"]]
    out = scores.join(facts, on="model")
    flops = []
    for n, d in zip(out["params"], out["train_tokens"], strict=True):
        known = not (pd.isna(n) or pd.isna(d))
        flops.append(compute.training_flops(float(n), float(d)) if known else np.nan)
    out["training_flops"] = pd.array(flops, dtype="Float64")
    return out


def settings(scores: pd.DataFrame) -> pd.DataFrame:
    """How many scores each setting has (split ``None`` shown as ``not stated``)."""
    frame = scores.assign(split=scores["split"].fillna("not stated"))
    return frame.groupby(list(SETTING), dropna=False).size().rename("scores").reset_index()


def one_setting(
    scores: pd.DataFrame,
    benchmark: str,
    shots: int,
    cot: bool = False,
    reported_by: str | None = None,
) -> pd.DataFrame:
    """The scores of one setting; raises ValueError if a model then has more than one score
    (the setting was not specific enough, for example two reporters)."""
    mask = (scores["benchmark"] == benchmark) & (scores["shots"] == shots) & (scores["cot"] == cot)
    if reported_by is not None:
        mask &= scores["reported_by"] == reported_by
    chosen = scores[mask]
    repeated = chosen["model"][chosen["model"].duplicated()].unique().tolist()
    if repeated:
        raise ValueError(
            f"{benchmark} {shots}-shot: several scores for {repeated}; choose a reported_by"
        )
    return chosen


def spread_across_settings(scores: pd.DataFrame) -> pd.DataFrame:
    """Per model and benchmark with more than one score: the lowest and highest score, their
    difference in points, and how many scores (settings or reporters) there are."""
    grouped = scores.groupby(["model", "benchmark"])["score"]
    table = pd.DataFrame(
        {"scores": grouped.size(), "lowest": grouped.min(), "highest": grouped.max()}
    )
    table["spread_points"] = table["highest"] - table["lowest"]
    return table[table["scores"] > 1].sort_values("spread_points", ascending=False).reset_index()


def points_per_decade(x: pd.Series, score: pd.Series) -> float:
    """Least-squares slope of ``score`` against ``log10(x)``: points gained per tenfold ``x``."""
    lx = np.log10(np.asarray(x, dtype=np.float64))
    y = np.asarray(score, dtype=np.float64)
    if len(lx) < 2 or np.ptp(lx) == 0:
        raise ValueError("need at least two different x values")
    return float(np.polyfit(lx, y, 1)[0])


# ----------------------------------------------------------------------------------------------
# Figures and reader tables (the chapter's plumbing lives here, not in its cells)

#: Random guessing among four choices, the floor of MMLU, C-Eval and CMMLU (%).
FOUR_CHOICE_CHANCE = 25.0

#: Marker shapes for reporters: twelve, more than the palette's colours, so that each of up to
#: twelve reporters keeps a shape of its own when the colours repeat.
MARKERS = "osD^vP*Xph<>"


def reporter_names(keys) -> dict[str, str]:
    """Each ``reported_by`` bibliography key as a reader's name ('Huang et al. 2023')."""
    from llmbook import tables

    names = tables.bibliography_names()
    return {key: names.get(key, key) for key in keys}


def score_text(score: float, score_max: float) -> str:
    """A score with its unit: '87.1 %' for a percentage, '7.53 / 10' for a judge's rating."""
    if score_max == 100:
        return f"{score:.1f} %"
    return f"{score:.2f} / {score_max:g}"


def reader_view(scores: pd.DataFrame, benchmarks: pd.DataFrame | None = None) -> pd.DataFrame:
    """The scores as a reader reads them: reporter named, shots as a count, chain of thought as
    yes/no, the score with its unit (percent, or a rating out of 10 for judged benchmarks, from
    ``benchmarks.score_max``; the catalog's benchmarks table by default), a missing variant or
    split as a dash."""
    if benchmarks is None:
        from llmbook import catalog

        benchmarks = catalog.load("benchmarks")
    score_max = scores["benchmark"].map(benchmarks.set_index("benchmark")["score_max"])
    if score_max.isna().any():
        missing = sorted(scores.loc[score_max.isna(), "benchmark"].unique())
        raise ValueError(f"benchmarks without a score_max in the benchmarks table: {missing}")
    names = reporter_names(scores["reported_by"].unique())
    view = pd.DataFrame(
        {
            "model": scores["model"],
            "variant": scores["model_variant"].fillna("–"),
            "benchmark": scores["benchmark"],
            "split": scores["split"].fillna("–"),
            "shots": scores["shots"].map(lambda n: "–" if pd.isna(n) else f"{int(n)}"),
            "chain of thought": scores["cot"].map({True: "yes", False: "no"}).fillna("–"),
            "score": [
                score_text(float(v), float(m))
                for v, m in zip(scores["score"], score_max, strict=True)
            ],
            "reported by": scores["reported_by"].map(names),
        }
    )
    return view.reset_index(drop=True)


def panel_figure(five: pd.DataFrame, x_column: str, x_label: str, benchmarks=None):
    """One scatter panel per benchmark of five-shot accuracy against ``x_column`` (log axis);
    marker and colour name the reporter, the dashed line is four-choice chance."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    from llmbook import style

    benchmarks = benchmarks or ["MMLU", "C-Eval", "CMMLU"]
    reporters = sorted(five["reported_by"].unique())
    names = reporter_names(reporters)
    markers = {rep: MARKERS[i % len(MARKERS)] for i, rep in enumerate(reporters)}
    colours = {rep: style.PALETTE[i % len(style.PALETTE)] for i, rep in enumerate(reporters)}
    legend_rows = -(-len(reporters) // 3)
    legend_inches = 0.45 + 0.18 * legend_rows
    height = 2.7 + legend_inches
    fig, axes = plt.subplots(
        1, len(benchmarks), figsize=(style.FIGURE_WIDTH_INCHES, height), sharey=True
    )
    seen = {}
    for ax, bench in zip(axes, benchmarks, strict=True):
        sub = five[five["benchmark"] == bench].dropna(subset=[x_column])
        for rep in reporters:
            rows = sub[sub["reported_by"] == rep]
            if len(rows):
                seen[rep] = ax.scatter(
                    rows[x_column].astype(float),
                    rows["score"].astype(float),
                    s=18,
                    marker=markers[rep],
                    color=colours[rep],
                )
        ax.axhline(FOUR_CHOICE_CHANCE, color="black", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        if x_column == "params":
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1e9:g}B"))
        ax.set_title(bench, fontsize=9)
        ax.set_xlabel(x_label, fontsize=8)
    axes[0].set_ylabel("5-shot accuracy (%)")
    fig.legend(
        list(seen.values()),
        [style.literal(names[r]) for r in seen],
        loc="lower center",
        ncols=3,
        fontsize=7,
        title="reported by",
        title_fontsize=7,
        bbox_to_anchor=(0.5, 0.0),
    )
    fig.tight_layout(rect=(0, legend_inches / height, 1, 1))
    return fig


def candidates_figure(best: pd.DataFrame, group_labels=("article's candidates", "other models")):
    """Horizontal bars of C-Eval five-shot accuracy, one per model, labelled with the model and
    who reported the score, coloured by ``group``; the dashed line is four-choice chance."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from llmbook import style

    names = reporter_names(best["reported_by"].unique())
    fig, ax = plt.subplots(figsize=(style.FIGURE_WIDTH_INCHES, 0.6 + 0.22 * len(best)))
    y = np.arange(len(best))
    colour = [style.PALETTE[0] if g == group_labels[0] else style.PALETTE[2] for g in best["group"]]
    ax.barh(y, best["score"].astype(float), color=colour)
    pairs = zip(best["model"], best["reported_by"], strict=True)
    labels = [style.literal(f"{m}  ({names[r]})") for m, r in pairs]
    ax.set_yticks(y, labels, fontsize=7)
    ax.axvline(FOUR_CHOICE_CHANCE, color="black", lw=0.8, ls="--")
    ax.set_xlabel("C-Eval, 5-shot, answer-only (%)")
    ax.legend(
        handles=[
            Patch(color=style.PALETTE[0], label=group_labels[0]),
            Patch(color=style.PALETTE[2], label=group_labels[1]),
        ],
        fontsize=8,
        loc="lower right",
    )
    fig.tight_layout()
    return fig


def half_width_points(n: int, p: float = 0.5) -> float:
    """Half-width, in percentage points, of the 95 % Wilson interval
    (:func:`llmbook.stats.wilson_interval`) of an accuracy ``p`` measured on ``n`` items; at
    ``p = 0.5`` it is the widest the interval gets for that ``n``."""
    from llmbook import stats

    if n <= 0:
        raise ValueError(f"need a positive number of items, got {n}")
    low, high = stats.wilson_interval(round(p * n), n)
    return 100.0 * (high - low) / 2


def size_interval_table(benchmarks: pd.DataFrame, p: float = 0.5) -> pd.DataFrame:
    """Benchmarks scored as a proportion (``score_max`` 100) with a known test size, and the 95 %
    interval half-width (points) that size allows at accuracy ``p``, smallest set first.
    Benchmarks rated by a judge (``score_max`` 10) are left out: a mean of 1-10 ratings is not a
    proportion, so the binomial interval does not apply to it."""
    chosen = benchmarks[(benchmarks["score_max"] == 100) & benchmarks["test_questions"].notna()]
    table = pd.DataFrame(
        {
            "benchmark": chosen["benchmark"].to_numpy(),
            "test_questions": chosen["test_questions"].astype(int).to_numpy(),
        }
    )
    table["half_width_points"] = [half_width_points(int(n), p) for n in table["test_questions"]]
    return table.sort_values("test_questions").reset_index(drop=True)


def size_interval_figure(table: pd.DataFrame, p: float = 0.5):
    """The 95 % interval half-width against the number of items (log axis): the Wilson curve at
    accuracy ``p`` and one labelled point per benchmark of :func:`size_interval_table`."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    from llmbook import style

    fig, ax = plt.subplots(figsize=(style.FIGURE_WIDTH_INCHES, 3.4))
    low = min(50, int(table["test_questions"].min()))
    high = max(20000, int(table["test_questions"].max()))
    grid = np.unique(np.geomspace(low, high, 200).round().astype(int))
    ax.plot(grid, [half_width_points(int(n), p) for n in grid], color=style.PALETTE[0], lw=1.2)
    ax.scatter(
        table["test_questions"], table["half_width_points"], color=style.PALETTE[1], zorder=3
    )
    # Labels alternate above-right and below-left of their points, away from the falling curve,
    # so that neighbours on the size axis (C-Eval and MMLU) do not overlap.
    for i, row in enumerate(table.itertuples()):
        above = i % 2 == 0
        ax.annotate(
            f"{row.benchmark} ({row.test_questions:,}): ±{row.half_width_points:.1f}",
            (row.test_questions, row.half_width_points),
            xytext=(5, 5) if above else (-5, -11),
            textcoords="offset points",
            ha="left" if above else "right",
            fontsize=7,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_minor_formatter(NullFormatter())
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    ax.set_yticks([0.5, 1, 2, 5, 10, 20])
    ax.set_ylim(0.4, 20)
    ax.set_xlabel("questions in the test set (log scale)")
    ax.set_ylabel(f"95 % interval half-width\nat accuracy {p:.0%} (points, log scale)")
    fig.tight_layout()
    return fig
