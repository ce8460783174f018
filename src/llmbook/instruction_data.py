"""The instruction-data landscape: grouping the ``instruction_datasets`` table for comparison.

Pure functions of the catalog table (``catalog.load("instruction_datasets")``). Sizes come in
the unit each source counts (instances, instructions, dialogues, records, samples, traces); the
functions here total and compare examples only within one unit (:func:`total_examples` raises
otherwise), and teacher models go by one name each (:func:`teacher_name`).
"""

from __future__ import annotations

import pandas as pd

#: Language groups, in display order.
LANGUAGE_GROUPS = (
    "English", "Chinese", "Chinese and English", "multilingual", "other", "not stated"
)  # fmt: skip


def language_group(languages: str | None, n_languages: int | None) -> str:
    """One of :data:`LANGUAGE_GROUPS` for a row's ``languages`` and ``n_languages`` cells.

    Three or more languages (by count or by codes) is "multilingual"; otherwise the codes
    decide; a row with neither is "not stated".
    """
    codes = set(languages.split(";")) if isinstance(languages, str) and languages else set()
    count = int(n_languages) if n_languages is not None and not pd.isna(n_languages) else None
    if len(codes) >= 3 or (count is not None and count >= 3):
        return "multilingual"
    if codes == {"en"}:
        return "English"
    if codes == {"zh"}:
        return "Chinese"
    if codes == {"en", "zh"}:
        return "Chinese and English"
    if codes:
        return "multilingual" if len(codes) > 1 else "other"
    return "not stated"


def with_groups(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``language_group`` column (see :func:`language_group`)."""
    out = frame.copy()
    out["language_group"] = [
        language_group(lang, n)
        for lang, n in zip(out["languages"], out["n_languages"], strict=True)
    ]
    return out


class MixedUnitsError(ValueError):
    """Raised when examples counted in different units (dialogues, instructions, records, ...)
    would be added together."""


def total_examples(frame: pd.DataFrame) -> int:
    """Sum of ``examples`` over the rows with a stated size, all in one ``example_unit``.

    A dialogue, an instruction and a record are not the same amount of data, so a total across
    units means nothing: rows in more than one unit raise :class:`MixedUnitsError` (group by
    ``example_unit`` first, as :func:`examples_by` does).
    """
    known = frame[frame["examples"].notna()]
    units = sorted(set(known["example_unit"].dropna()))
    if len(units) > 1:
        raise MixedUnitsError(
            f"cannot add examples counted in different units {units}; "
            "group the rows by example_unit first"
        )
    return int(known["examples"].sum())


def examples_by(frame: pd.DataFrame, rows: str, columns: str) -> pd.DataFrame:
    """Total ``examples`` by ``example_unit`` and ``rows`` (the index) and ``columns``.

    Rows without an example count are left out; every combination of one unit is present (zero
    where none). The unit is the outer index level, so no cell ever adds examples of two units.
    """
    known = frame[frame["examples"].notna()]
    tables = {}
    for unit, part in known.groupby("example_unit", sort=True):
        cells = {
            key: total_examples(group) for key, group in part.groupby([rows, columns], sort=True)
        }
        table = pd.Series(cells, dtype="int64").unstack(fill_value=0)
        table.index.name, table.columns.name = rows, columns
        tables[unit] = table
    if not tables:
        return pd.DataFrame(dtype="int64")
    out = pd.concat(tables, names=["example_unit", rows]).fillna(0).astype("int64")
    out.columns.name = columns
    return out


def share_by_unit(frame: pd.DataFrame, selected: pd.Series) -> pd.Series:
    """For each ``example_unit``: the fraction of the examples (rows with a stated size) that
    lie in the ``selected`` rows (a boolean Series aligned with ``frame``). A share is taken
    within one unit only (see :func:`total_examples`)."""
    known = frame[frame["examples"].notna()]
    chosen = selected.reindex(known.index).fillna(False).astype(bool)
    shares = {
        unit: total_examples(part[chosen.loc[part.index]]) / total_examples(part)
        for unit, part in known.groupby("example_unit", sort=True)
    }
    return pd.Series(shares, name="share", dtype="float64").rename_axis("example_unit")


#: One name per teacher model: the identifier its maker publishes, i.e. the OpenAI API model
#: name (``davinci``, ``text-davinci-003``, ``gpt-3.5-turbo``, ``gpt-4``) or the Hugging Face
#: repository name of an open model (``Meta-Llama-3-70B-Instruct``, ``Qwen2-72B-Instruct``,
#: ``DeepSeek-R1``). ``ChatGPT`` stays the product's name where a source names only the product
#: (the web or API service of its day), since no model identifier can be read from it.
CANONICAL_TEACHERS = frozenset(
    {
        "davinci",
        "text-davinci-003",
        "gpt-3.5-turbo",
        "gpt-4",
        "ChatGPT",
        "Meta-Llama-3-70B-Instruct",
        "Qwen2-72B-Instruct",
        "DeepSeek-R1",
    }
)

#: Other spellings the sources use, mapped to the canonical name.
TEACHER_ALIASES = {
    "GPT-3 (davinci)": "davinci",
    "GPT-4": "gpt-4",
    "ChatGPT (gpt-3.5-turbo)": "gpt-3.5-turbo",
    "ChatGPT Turbo": "gpt-3.5-turbo",
    "Llama 3 70B Instruct": "Meta-Llama-3-70B-Instruct",
    "Llama-3-70B-Instruct": "Meta-Llama-3-70B-Instruct",
    "Qwen2 72B Instruct": "Qwen2-72B-Instruct",
    "R1": "DeepSeek-R1",
    "DeepSeek R1": "DeepSeek-R1",
}


def teacher_name(name: str) -> str:
    """The canonical name (:data:`CANONICAL_TEACHERS`) of a teacher model or of a ';'-separated
    list of them. An unknown spelling raises: add it to :data:`TEACHER_ALIASES` (or a new model
    to :data:`CANONICAL_TEACHERS`)."""
    names = []
    for part in str(name).split(";"):
        part = part.strip()
        canonical = part if part in CANONICAL_TEACHERS else TEACHER_ALIASES.get(part)
        if canonical is None:
            raise ValueError(
                f"unknown teacher model {part!r}: add it to TEACHER_ALIASES or "
                "CANONICAL_TEACHERS in llmbook.instruction_data"
            )
        names.append(canonical)
    return ";".join(names)


def unit_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per ``example_unit`` (rows with a stated size): how many data sets, their total
    examples, the share of those examples that is distilled, and the largest data set.

    Every figure stays inside one unit, so dialogues, instructions and records are compared only
    with their own kind."""
    known = frame[frame["examples"].notna()]
    distilled = share_by_unit(known, known["method"] == "distilled")
    rows = {}
    for unit, part in known.groupby("example_unit", sort=True):
        largest = part.loc[part["examples"].astype("int64").idxmax()]
        rows[unit] = {
            "datasets": len(part),
            "examples": total_examples(part),
            "distilled_share": float(distilled[unit]),
            "largest": largest["dataset"],
            "largest_examples": int(largest["examples"]),
        }
    out = pd.DataFrame.from_dict(rows, orient="index").rename_axis("example_unit")
    return out.sort_values("examples", ascending=False)


def teacher_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per teacher model of the distilled rows: how many data sets, the years they span,
    and their examples totalled within each unit ('2.5M instructions; 1.1M dialogues'), never
    across units. Names go through :func:`teacher_name` first."""
    from llmbook.tables import count

    distilled = frame[(frame["method"] == "distilled") & frame["distilled_from"].notna()].copy()
    distilled["teacher"] = distilled["distilled_from"].map(teacher_name)
    rows = {}
    for teacher, part in distilled.groupby("teacher", sort=True):
        sized = part[part["examples"].notna()]
        by_unit = [
            (total_examples(group), unit)
            for unit, group in sized.groupby("example_unit", sort=True)
        ]
        years = part["year"].dropna().astype(int)
        rows[teacher] = {
            "datasets": len(part),
            "first_year": int(years.min()) if len(years) else None,
            "last_year": int(years.max()) if len(years) else None,
            "examples": "; ".join(
                f"{count(n)} {unit}" for n, unit in sorted(by_unit, reverse=True)
            ),
        }
    out = pd.DataFrame.from_dict(rows, orient="index").rename_axis("teacher")
    return out.sort_values(["first_year", "datasets"], ascending=[True, False])


def distinct(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without the rows that are subsets of another row present in it (``subset_of``),
    so that totals count each example once (UltraChat 200k is a filtered part of UltraChat)."""
    if "subset_of" not in frame.columns:
        return frame
    covered = frame["subset_of"].isin(set(frame["dataset"]))
    return frame[~covered]


#: The reason a cell of :func:`catalog_table` is empty, for the note under the table.
NOT_STATED = "the primary sources cited for the row do not state it"
CATALOG_MISSING = {
    "year": "the source does not date the release",
    # a row with a count of languages but no codes shows the count ("46 languages")
    "languages": "the sources cited for the row state neither the languages nor their number",
    "examples": NOT_STATED,
    "tasks": "not a collection built from task definitions, or not stated",
    "licence": "the source states none",
}


def catalog_table(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The catalog as a reader compares it, and the notes on its empty cells.

    Seven columns, so the interactive table keeps to the text column: the language count joins
    the languages ('zh (2 languages)'), the unit and the basis of a size join the size ('52K
    instructions (rounded)'), the teacher joins the method ('distilled from gpt-4'), and a data
    set that was not released says so in its licence cell ('not released'). Empty cells read as
    a dash, each column's reason in the notes (:func:`llmbook.tables.reader_table`).
    """
    from llmbook import tables

    shown, notes = tables.reader_table(
        frame[["dataset", "year", "languages", "examples", "tasks", "method", "licence"]],
        {"year": "int", "examples": "count", "tasks": "count"},
        missing_reasons=CATALOG_MISSING,
    )
    dash = tables.DASH
    n_languages = frame["n_languages"].astype("Float64")
    codes = shown["languages"].str.replace(";", ", ")
    shown["languages"] = [
        (f"{n:.0f} languages" if lang == dash else f"{lang} ({n:.0f} languages)")
        if not pd.isna(n) and n > 1
        else lang
        for lang, n in zip(codes, n_languages, strict=True)
    ]
    shown["examples"] = [
        size
        if size == dash
        else " ".join(
            [size]
            + ([] if pd.isna(unit) else [str(unit)])
            + ([] if pd.isna(basis) or basis == "exact" else [f"({basis})"])
        )
        for size, unit, basis in zip(
            shown["examples"], frame["example_unit"], frame["examples_basis"], strict=True
        )
    ]
    shown["method"] = [
        f"{method} from {teacher}" if method == "distilled" and not pd.isna(teacher) else method
        for method, teacher in zip(shown["method"], frame["distilled_from"], strict=True)
    ]
    shown["licence"] = [
        licence if released else ("not released" if licence == dash else f"not released; {licence}")
        for licence, released in zip(shown["licence"], frame["released"], strict=True)
    ]
    # a licence dash now means only "none stated": the rows not released say so in the cell
    notes = [n for n in notes if not n.startswith("licence")]
    if (shown["licence"] == dash).any():
        notes.append(f"licence: {dash} means {CATALOG_MISSING['licence']}")
    return shown, notes
