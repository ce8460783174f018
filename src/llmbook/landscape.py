"""Views of the model catalog: counts, reader-facing tables and the release timeline.

Functions here take the DataFrame returned by ``llmbook.catalog.load("models")`` and never read
files themselves.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from llmbook import style, tables

#: Language groups for colouring, in legend order: (label, test on the ``languages`` cell).
LANGUAGE_GROUPS = (
    ("Chinese among main languages", lambda langs: "zh" in langs),
    ("many languages", lambda langs: "mul" in langs),
    ("English only", lambda langs: langs == ["en"]),
    ("other / not stated", lambda langs: True),
)

BILLION = 1e9
TUNED_STAGES = ("instruction-tuned", "chat")


def language_list(cell) -> list[str]:
    """The ISO 639-1 codes of a ``languages`` cell (empty list for a missing cell)."""
    if cell is None or pd.isna(cell):
        return []
    return [code for code in str(cell).split(";") if code]


def language_group(cell) -> str:
    """The colour group of a ``languages`` cell (see LANGUAGE_GROUPS)."""
    langs = language_list(cell)
    return next(label for label, test in LANGUAGE_GROUPS if test(langs))


def _name_with_size(row) -> str:
    if pd.isna(row["params"]):
        return f"{row['model']} (size not published)"
    return f"{row['model']} ({row['params'] / BILLION:g}B)"


def summarize(models: pd.DataFrame) -> dict[str, object]:
    """Headline counts and names for the prose, all computed from the catalog."""
    open_ = models[models["open_weights"].fillna(False)]
    zh = models["languages"].map(lambda c: "zh" in language_list(c))
    open_zh = open_[zh[open_.index]]
    drawable = models["params"].notna() & models["released"].notna()
    undrawn = models.loc[~drawable, "model"].tolist()

    def largest(frame: pd.DataFrame) -> str:
        frame = frame[frame["params"].notna()]
        if frame.empty:
            return "none"
        return _name_with_size(frame.loc[frame["params"].idxmax()])

    sizes = models.loc[drawable, "params"].astype(float)
    span = float(np.log10(sizes.max() / sizes.min())) if len(sizes) > 1 else 0.0
    return {
        "n_models": len(models),
        "n_pretrained": int((models["stage"] == "pretrained").sum()),
        "n_tuned": int(models["stage"].isin(TUNED_STAGES).sum()),
        "n_open": len(open_),
        "n_zh": int(zh.sum()),
        "n_open_zh": len(open_zh),
        "largest_open": largest(open_),
        "largest_open_zh": largest(open_zh),
        "n_undrawn": len(undrawn),
        "undrawn": ", ".join(undrawn) if undrawn else "none",
        "size_span_orders": f"{span:.1f}",
    }


#: How a reader reads an ``open_weights`` cell (missing: the sources do not say).
WEIGHTS_TEXT = {True: "open weights", False: "closed weights", None: "weights not stated"}
#: Between the organization and the weights in the "organization / weights" cell, and between
#: the source and the notes in the "source and notes" cell.
FOLD_SEPARATOR = " · "
NOTES_SEPARATOR = " — "


def made_by(organization, open_weights) -> str:
    """The "organization / weights" cell: 'Tsinghua University, BAAI · open weights'."""
    who = "" if pd.isna(organization) else str(organization).replace(";", ", ")
    weights = WEIGHTS_TEXT[None if pd.isna(open_weights) else bool(open_weights)]
    return f"{who}{FOLD_SEPARATOR}{weights}" if who else weights


def stage_and_base(stage, base_model) -> str:
    """The "stage / base model" cell of a tuned model: 'chat, from LLaMA-13B', or the stage alone
    where the source names no base."""
    return str(stage) if pd.isna(base_model) else f"{stage}, from {base_model}"


def source_and_notes(source, notes) -> str:
    """The "source and notes" cell: the source as a reader reads it (:func:`tables.source_text`),
    then the notes."""
    parts = [tables.source_text(source), "" if pd.isna(notes) else str(notes)]
    return NOTES_SEPARATOR.join(p for p in parts if p)


def display_table(models: pd.DataFrame, stage: str) -> pd.DataFrame:
    """The reader-facing columns for ``stage`` = "pretrained" or "tuned", in billions.

    Seven columns, so the table keeps to the text column: the organization and the openness of
    the weights share a cell, so do a tuned model's stage and its base, and so do the source and
    the notes. The architecture is left to :func:`architectures_apart`, as all but a few models
    are decoder-only.
    """
    if stage == "pretrained":
        rows = models[models["stage"] == "pretrained"]
    elif stage == "tuned":
        rows = models[models["stage"].isin(TUNED_STAGES)]
    else:
        raise ValueError(f"stage must be 'pretrained' or 'tuned', got {stage!r}")
    table = pd.DataFrame(
        {
            "model": rows["model"],
            "organization / weights": [
                made_by(o, w)
                for o, w in zip(
                    rows["organization"], rows["open_weights"].astype(object), strict=True
                )
            ],
            "released": rows["released"].dt.strftime("%Y-%m"),
            "languages": rows["languages"].str.replace(";", ", "),
            "params (B)": rows["params"].astype("Float64") / BILLION,
        }
    )
    if stage == "pretrained":
        table["train tokens (B)"] = rows["train_tokens"].astype("Float64") / BILLION
    else:
        table["stage / base model"] = [
            stage_and_base(s, b) for s, b in zip(rows["stage"], rows["base_model"], strict=True)
        ]
    table["source and notes"] = [
        source_and_notes(s, n) for s, n in zip(rows["source"], rows["notes"], strict=True)
    ]
    table = table.sort_values("released", na_position="last").reset_index(drop=True)
    return for_display(table)


#: The architecture most models share; :func:`architectures_apart` lists the others.
COMMON_ARCHITECTURE = "decoder-only"
#: How the prose names an ``architecture`` value (others as written).
ARCHITECTURE_LABELS = {"prefix-lm": "prefix LM", "other": "another design, see the notes"}


def architectures_apart(rows: pd.DataFrame) -> str:
    """Which models of ``rows`` are not decoder-only, for the prose under a table that leaves the
    architecture out: 'T5-11B and mT5-XXL 13B (encoder-decoder); GLM-130B (prefix-lm)', with the
    models whose sources state no architecture last; 'none' if every model is decoder-only."""
    groups = []
    architecture = rows["architecture"].astype(object)
    labels = sorted(set(architecture.dropna()) - {COMMON_ARCHITECTURE})
    for label in labels:
        groups.append((rows.loc[architecture == label, "model"].tolist(), label))
    unstated = rows.loc[architecture.isna(), "model"].tolist()
    if unstated:
        groups.append((unstated, "architecture not stated"))
    if not groups:
        return "none"

    def names(items: list[str]) -> str:
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

    return "; ".join(
        f"{names(models)} ({ARCHITECTURE_LABELS.get(label, label)})" for models, label in groups
    )


def for_display(table: pd.DataFrame) -> pd.DataFrame:
    """Cells as text for a reader: numbers in ``%g`` form, a missing value as an empty cell.

    Interactive tables would otherwise print ``<NA>`` or ``NaN``; DataTables still sorts the
    number columns numerically, as it treats empty cells as compatible with numbers.
    """
    out = pd.DataFrame(index=table.index)
    for name, column in table.items():
        if pd.api.types.is_numeric_dtype(column):
            out[name] = [("" if pd.isna(v) else f"{float(v):g}") for v in column]
        else:
            out[name] = ["" if pd.isna(v) else str(v) for v in column]
    return out


def missing_facts(models: pd.DataFrame) -> pd.DataFrame:
    """Per stage: rows, and how many leave params / train_tokens / released empty."""
    grouped = models.groupby("stage", sort=True)
    return pd.DataFrame(
        {
            "models": grouped.size(),
            "no published size": grouped["params"].apply(lambda s: int(s.isna().sum())),
            "no published training tokens": grouped["train_tokens"].apply(
                lambda s: int(s.isna().sum())
            ),
            "no release month": grouped["released"].apply(lambda s: int(s.isna().sum())),
        }
    )


#: Marker for each state of ``open_weights``: (legend label, marker, filled).
WEIGHTS_MARKERS = (
    (True, "open weights", "o", True),
    (False, "closed", "o", False),
    (None, "not stated", "D", False),
)


def _weights_state(value) -> bool | None:
    return None if value is None or pd.isna(value) else bool(value)


def label_mask(models: pd.DataFrame) -> pd.Series:
    """Which points get a name: the largest model of each family, so a crowded plot stays legible.

    The tables name every model; the figure names one per family (ties broken by the later
    release), which is enough to find the rest by family in the tables.
    """
    ranked = models.assign(_p=models["params"].astype(float)).sort_values(
        ["family", "_p", "released"], ascending=[True, False, False]
    )
    keep = ranked.drop_duplicates("family").index
    return models.index.isin(keep)


def timeline_figure(models: pd.DataFrame):
    """Release month vs parameters (log): colour = language group, marker = weights openness."""
    from matplotlib.lines import Line2D

    drawable = models[models["params"].notna() & models["released"].notna()].copy()
    drawable = drawable.sort_values(["released", "params"]).reset_index(drop=True)
    drawable["group"] = drawable["languages"].map(language_group)
    drawable["weights"] = [_weights_state(v) for v in drawable["open_weights"].astype(object)]
    colours = {
        label: colour for (label, _), colour in zip(LANGUAGE_GROUPS, style.PALETTE, strict=False)
    }
    fig, ax = plt.subplots(figsize=(style.FIGURE_WIDTH_INCHES, 6.0))
    for state, _, marker, filled in WEIGHTS_MARKERS:
        rows = drawable[drawable["weights"].map(lambda v, s=state: v is s)]
        if rows.empty:
            continue
        edge = rows["group"].map(colours)
        ax.scatter(
            rows["released"],
            rows["params"].astype(float),
            s=40,
            marker=marker,
            facecolors=edge if filled else "white",
            edgecolors=edge,
            linewidths=1.5,
            zorder=3,
        )
    ax.set_yscale("log")
    ax.set_xlabel("release (month)")
    ax.set_ylabel("parameters")
    ax.margins(x=0.08, y=0.12)
    fig.canvas.draw()
    labelled = drawable[label_mask(drawable)]
    style.label_points(
        ax,
        labelled["released"].tolist(),
        labelled["params"].astype(float).tolist(),
        labelled["model"].tolist(),
    )
    used_groups = [label for label, _ in LANGUAGE_GROUPS if (drawable["group"] == label).any()]
    colour_handles = [
        Line2D([], [], ls="", marker="o", color=colours[g], label=g) for g in used_groups
    ]
    marker_handles = [
        Line2D(
            [],
            [],
            ls="",
            marker=m,
            markerfacecolor="#555555" if f else "white",
            markeredgecolor="#555555",
            label=label,
        )
        for state, label, m, f in WEIGHTS_MARKERS
        if drawable["weights"].map(lambda v, s=state: v is s).any()
    ]
    fig.legend(
        handles=colour_handles + marker_handles,
        loc="lower center",
        ncols=4,
        fontsize=7.5,
        bbox_to_anchor=(0.5, -0.01),
    )
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def lineage(models: pd.DataFrame) -> pd.DataFrame:
    """Edges base -> derived model (``base_model`` column), with both models' stages."""
    derived = models[models["base_model"].notna()]
    stage = models.set_index("model")["stage"]
    edges = pd.DataFrame(
        {
            "base": derived["base_model"].astype(str),
            "derived": derived["model"].astype(str),
            "derived_stage": derived["stage"].astype(str),
        }
    )
    edges["base_stage"] = edges["base"].map(stage)
    return edges.sort_values(["base", "derived"]).reset_index(drop=True)


def moe_table(models: pd.DataFrame) -> pd.DataFrame:
    """The mixture-of-experts rows of ``models``, for readers: release month, total parameters
    (what memory must hold), active parameters (what each token computes with, from the
    ``active_params`` column when the catalog has it) and the active share. A missing active
    count reads "not in catalog". Sorted by release; indexed by model."""
    moe = models[models["moe"].astype(object).fillna(False).astype(bool)]
    moe = moe.sort_values(["released", "model"], na_position="last")
    active = moe["active_params"] if "active_params" in moe else pd.Series(None, index=moe.index)

    def billions(value) -> str:
        return "not in catalog" if pd.isna(value) else f"{float(value) / 1e9:,.1f}B"

    share = [
        "" if pd.isna(a) or pd.isna(p) else f"{float(a) / float(p):.0%}"
        for a, p in zip(active, moe["params"], strict=True)
    ]
    return pd.DataFrame(
        {
            "released": pd.to_datetime(moe["released"]).dt.strftime("%Y-%m").fillna(""),
            "total params": moe["params"].map(billions),
            "active params": active.map(billions),
            "active share": share,
        }
    ).set_axis(moe["model"].astype(str), axis=0)
