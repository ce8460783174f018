"""The book's data tables, validated against ``data/datapackage.json`` and typed for pandas.

Every chapter reads data through :func:`load`; nothing else parses the CSV files. Validation
uses the Frictionless framework (Table Schema: types, constraints, primary and foreign keys).
A problem is reported as :class:`DataError`, whose message names the file, the row (the line of
the CSV file, the header being line 1) and the column, and says how to fix it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from llmbook import inputs, paths

#: How many problems a DataError lists before it says "and N more".
MAX_REPORTED_PROBLEMS = 20


@dataclass(frozen=True)
class Problem:
    """One validation problem, located in a file."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column '{self.column}'"
        return f"{where}: {self.message}"


class PackageError(ValueError):
    """The data package itself (its folder or ``datapackage.json``) cannot be read."""


class DataError(ValueError):
    """The data package does not satisfy its schema."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        shown = "\n".join(f"  - {p}" for p in problems[:MAX_REPORTED_PROBLEMS])
        more = len(problems) - MAX_REPORTED_PROBLEMS
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"data package invalid ({len(problems)} problem(s)); fix these cells and rebuild:\n"
            f"{shown}{tail}"
        )


def _note_table(data: Path, table: str) -> None:
    """Record what a table's values depend on: its CSV and the schema that types it.

    Validity of the whole package is checked when the book's build starts (before any notebook
    runs), so a notebook's outputs depend only on the tables it reads: editing claims.csv need
    not re-execute a chapter that only reads models.csv.
    """
    inputs.note(data / paths.DATAPACKAGE)
    for resource in _descriptor(data)["resources"]:
        if resource["name"] == table:
            inputs.note(data / resource["path"])


def _descriptor(data: Path) -> dict:
    return json.loads((data / paths.DATAPACKAGE).read_text(encoding="utf-8"))


def table_names(data: Path | None = None) -> list[str]:
    """Names of the tables (resources) in the data package."""
    data = data or paths.data_dir()
    return [r["name"] for r in _descriptor(data)["resources"]]


def schema(table: str, data: Path | None = None) -> dict:
    """The Table Schema of one table, as a dict (fields with their types, units, constraints)."""
    data = data or paths.data_dir()
    for resource in _descriptor(data)["resources"]:
        if resource["name"] == table:
            return resource["schema"]
    raise KeyError(f"no table '{table}' in {data / paths.DATAPACKAGE}; have {table_names(data)}")


def validate(data: Path | None = None) -> None:
    """Validate the whole data package (every table, keys across tables); raise DataError."""
    from frictionless import FrictionlessException, Package, system

    data = Path(data or paths.data_dir()).resolve()
    descriptor = data / paths.DATAPACKAGE
    if not descriptor.is_file():
        raise FileNotFoundError(
            f"{descriptor} not found: give the folder that holds the data package"
        )
    try:
        json.loads(descriptor.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise PackageError(f"{descriptor} is not valid JSON ({error})") from None
    try:
        with system.use_context(trusted=False):
            package = Package(str(descriptor), basepath=str(data))
            report = package.validate()
    except FrictionlessException as error:
        raise PackageError(f"{descriptor}: {error.error.note}") from None
    if report.valid:
        problems = active_params_problems(data)
        if problems:
            raise DataError(problems)
        return
    problems = []
    for task in report.tasks:
        file = f"data/{Path(task.place).name}" if task.place else "data"
        for error in task.errors:
            problems.append(_problem(file, error))
    raise DataError(problems)


def active_params_problems(data: Path) -> list[Problem]:
    """Rules of ``models.csv`` that a Table Schema cannot state: a dense model's active
    parameters are all its parameters; a mixture of experts with an active count has a total
    that is larger; the basis is filled exactly when the count is."""
    import csv

    path = data / "models.csv"
    if not path.is_file():
        return []
    problems = []
    with path.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            if "active_params" not in row:
                return []
            total, active, basis = row["params"], row["active_params"], row["active_params_basis"]
            where = ("data/models.csv", line)
            if row["moe"] == "false" and total and active != total:
                problems.append(
                    Problem(
                        *where,
                        "active_params",
                        f"a dense model uses all its parameters: set it to {total}, basis 'dense'",
                    )
                )
            if row["moe"] == "true" and basis == "dense":
                problems.append(
                    Problem(
                        *where,
                        "active_params_basis",
                        "a mixture of experts is not dense: 'reported' or 'estimated'",
                    )
                )
            if row["moe"] == "true" and total and active and int(active) >= int(total):
                problems.append(
                    Problem(
                        *where,
                        "active_params",
                        f"a mixture of experts activates fewer than its {total} parameters",
                    )
                )
            if bool(active) != bool(basis):
                problems.append(
                    Problem(
                        *where,
                        "active_params_basis",
                        "fill it exactly when active_params is filled",
                    )
                )
    return problems


def _problem(file: str, error) -> Problem:
    """Locate one Frictionless error: file, row (line of the CSV) and column."""
    column = getattr(error, "field_name", None)
    note = error.note
    if column is None and error.type == "foreign-key":
        # A foreign-key error names its field only in its note: 'for "base_model": ...'.
        match = re.search(r'for "([^"]+)"', note)
        column = match.group(1) if match else None
    cell = getattr(error, "cell", None)
    value = f" (cell {cell!r})" if cell not in (None, "") else ""
    return Problem(
        file, getattr(error, "row_number", None), column, f"{error.title}{value}: {note}"
    )


def _convert(frame: pd.DataFrame, fields: list[dict]) -> pd.DataFrame:
    """Turn the CSV's text cells into typed pandas columns, as the schema declares."""
    out = frame.copy()
    for field in fields:
        name, kind = field["name"], field.get("type", "string")
        column = out[name].replace("", pd.NA)
        if kind == "integer":
            out[name] = pd.to_numeric(column).astype("Int64")
        elif kind == "number":
            out[name] = pd.to_numeric(column).astype("Float64")
        elif kind == "boolean":
            out[name] = column.map({"true": True, "false": False}).astype("boolean")
        elif kind in ("yearmonth", "date"):
            out[name] = pd.to_datetime(
                column, format="%Y-%m" if kind == "yearmonth" else "%Y-%m-%d"
            )
        else:
            out[name] = column.astype("string")
    return out


@cache
def _load_cached(table: str, data: Path, stamp: tuple) -> pd.DataFrame:
    descriptor = _descriptor(data)
    resource = next(r for r in descriptor["resources"] if r["name"] == table)
    frame = pd.read_csv(data / resource["path"], dtype=str, keep_default_na=False)
    return _convert(frame, resource["schema"]["fields"])


def load(table: str, data: Path | None = None) -> pd.DataFrame:
    """Load one table as a typed DataFrame, after validating the whole package.

    Integers become ``Int64`` (nullable: an empty cell is ``<NA>``, never a guess), numbers
    ``Float64``, booleans ``boolean``, ``yearmonth`` cells timestamps at the month's start, text
    ``string``. Raises DataError if any table of the package is invalid, KeyError for an unknown
    table name.
    """
    data = (data or paths.data_dir()).resolve()
    if table not in table_names(data):
        raise KeyError(
            f"no table '{table}' in {data / paths.DATAPACKAGE}; have {table_names(data)}"
        )
    stamp = tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in sorted(data.glob("*")))
    _validate_cached(data, stamp)
    _note_table(data, table)
    return _load_cached(table, data, stamp).copy()


#: Set by the book's build for the kernels it starts: the digest (:func:`package_digest`) of the
#: data package it validated before any notebook ran. A kernel whose data folder has exactly that
#: digest skips validating it again (about two seconds per chapter).
VALIDATED_ENV = "LLMBOOK_VALIDATED_DATA"


def package_digest(folder: Path) -> str:
    """One sha256 over the names and contents of the files directly inside ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@cache
def _validate_cached(data: Path, stamp: tuple) -> None:
    """Validate once per content stamp (names, sizes, modification times) of the data folder,
    unless the build already validated this exact content (:data:`VALIDATED_ENV`)."""
    receipt = os.environ.get(VALIDATED_ENV)
    if receipt and receipt == package_digest(data):
        return
    validate(data)


#: Separator between the items of a ``source`` cell: "key: location ; key: location".
SOURCE_SEPARATOR = " ; "


def source_keys(cell: str) -> list[str]:
    """The bibliography keys cited in one ``source`` cell, in order, without repeats.

    >>> source_keys("brown2020language: §2.1 Table 2.1 ; openai2022chatgpt: blog post")
    ['brown2020language', 'openai2022chatgpt']
    """
    keys = [item.split(":", 1)[0].strip() for item in str(cell).split(SOURCE_SEPARATOR)]
    return list(dict.fromkeys(k for k in keys if k))


def describe(table: str, data: Path | None = None) -> pd.DataFrame:
    """The columns of one table as documentation: name, type, unit, rules, meaning.

    Generated from ``datapackage.json`` so the appendix can never disagree with the schema.
    """
    data = data or paths.data_dir()
    rows = []
    for field in schema(table, data)["fields"]:
        constraints = field.get("constraints", {})
        rules = []
        if constraints.get("required"):
            rules.append("required")
        if constraints.get("unique"):
            rules.append("unique")
        if "enum" in constraints:
            rules.append("one of: " + ", ".join(constraints["enum"]))
        for bound in ("minimum", "maximum"):
            if bound in constraints:
                rules.append(f"{bound} {constraints[bound]}")
        if "pattern" in constraints:
            rules.append(f"matches `{constraints['pattern']}`")
        rows.append(
            {
                "column": field["name"],
                "type": field.get("type", "string"),
                "unit": field.get("unit", ""),
                "rules": "; ".join(rules),
                "meaning": field.get("description", ""),
            }
        )
    return pd.DataFrame(rows)


def foreign_keys(table: str, data: Path | None = None) -> list[tuple[str, str, str]]:
    """(column, referenced table, referenced column) for each foreign key of ``table``."""
    keys = []
    for fk in schema(table, data).get("foreignKeys", []):
        target = fk["reference"]["resource"] or table
        for col, ref in zip(fk["fields"], fk["reference"]["fields"], strict=True):
            keys.append((col, target, ref))
    return keys


def cite_sources(frame: pd.DataFrame, column: str = "source") -> str:
    """A MyST paragraph citing every bibliography key used in ``frame[column]``, sorted."""
    keys = sorted({key for cell in frame[column].dropna() for key in source_keys(cell)})
    if not keys:
        return "No sources."
    return " ".join(f"{{cite:t}}`{key}`;" for key in keys).rstrip(";") + "."


class NotFound(LookupError):
    """A name that no row of a table carries; the message lists the nearest names."""


def lookup(table: str, name: str, data: Path | None = None) -> pd.Series:
    """The row of ``table`` whose key (first primary-key column) equals ``name``, ignoring case
    (and, failing that, spaces, hyphens and underscores when only one row then matches).

    Raises NotFound listing the nearest existing names (difflib similarity).
    """
    import difflib

    frame = load(table, data)
    key = schema(table, data)["primaryKey"][0]
    keys = frame[key].astype(str)
    folded = keys.str.casefold()
    hit = frame[folded == name.strip().casefold()]
    if len(hit):
        return hit.iloc[0]
    # then ignoring spaces, hyphens and underscores: "a100 80gb" finds "A100 80GB"
    loose = folded.str.replace(r"[\s_-]+", "", regex=True)
    hit = frame[loose == re.sub(r"[\s_-]+", "", name.strip().casefold())]
    if len(hit) == 1:
        return hit.iloc[0]
    close = difflib.get_close_matches(name.strip().casefold(), folded.tolist(), n=5, cutoff=0.3)
    nearest = [keys[folded == c].iloc[0] for c in close]
    hint = f"; nearest: {', '.join(nearest)}" if nearest else ""
    raise NotFound(f"no {table} row named {name!r}{hint}")
