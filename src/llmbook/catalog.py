"""The book's data tables, validated against ``data/datapackage.json`` and typed for pandas.

Every chapter reads data through :func:`load`; nothing else parses the CSV files. Validation
uses the Frictionless framework (Table Schema: types, constraints, primary and foreign keys).
A problem is reported as :class:`DataError`, whose message names the file, the row (the line of
the CSV file, the header being line 1) and the column, and says how to fix it.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from llmbook import inputs, paths
from llmbook.paths import package_digest

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


class PackageError(DataError):
    """The data package itself cannot be read: no ``datapackage.json``, or not valid JSON.

    Its message is one line naming the path that was tried.
    """

    def __init__(self, message: str):
        self.problems = [Problem(paths.DATAPACKAGE, None, None, message)]
        ValueError.__init__(self, message)


def _descriptor(data: Path) -> dict:
    """The parsed ``datapackage.json`` of ``data``; PackageError if missing or malformed."""
    path = Path(data).resolve() / paths.DATAPACKAGE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PackageError(
            f"no {paths.DATAPACKAGE} at {path}: give the book's data folder (--data DIR)"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise PackageError(f"cannot read {path}: {error}") from None
    try:
        descriptor = json.loads(text)
    except json.JSONDecodeError as error:
        raise PackageError(
            f"{path} is not valid JSON: line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("resources"), list):
        raise PackageError(f"{path} has no list of 'resources' (a Frictionless data package)")
    return descriptor


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
    """Validate the whole data package (every table, keys across tables); raise DataError.

    Three stages: the files themselves (present, UTF-8, headers as the schema names them), so a
    broken file is blamed on itself and not on every table that refers to it; the Table Schema
    (Frictionless: types, constraints, primary and foreign keys); then the book's own rules
    (:func:`check_cells`). A trailing blank line is tolerated. ``datapackage.json`` missing or
    malformed raises PackageError (one line, naming the path tried).
    """
    data = Path(data or paths.data_dir()).resolve()
    descriptor = _descriptor(data)
    problems, last_rows = _check_files(data, descriptor)
    if not problems:
        problems = [
            p
            for p in _schema_problems(data)
            if p.row is None or p.row <= last_rows.get(p.file, p.row)
        ]
        problems += check_cells(data, descriptor)
        problems += active_params_problems(data)
        problems += _created_problems(descriptor)
    if problems:
        raise DataError(problems)


def _created_problems(descriptor: dict, today=None) -> list[Problem]:
    """The descriptor's ``created`` (which ``llmbook --version`` prints) is not in the future;
    its format is the Data Package profile's to check (:func:`_schema_problems`)."""
    import datetime as dt

    created = descriptor.get("created")
    today = today or dt.datetime.now(dt.UTC).date()
    if isinstance(created, str) and created[:10] > today.isoformat():
        return [Problem(f"data/{paths.DATAPACKAGE}", None, None,
                        f"'created' {created!r} is after the date of this check "
                        f"({today.isoformat()})")]  # fmt: skip
    return []


def _schema_problems(data: Path) -> list[Problem]:
    """The Frictionless validation of the package, as located problems."""
    from frictionless import FrictionlessException, Package, system

    with system.use_context(trusted=False):
        try:
            package = Package(str(data / paths.DATAPACKAGE), basepath=str(data))
        except FrictionlessException as error:  # the descriptor itself (e.g. a bad "created")
            reasons = [r.message for r in getattr(error, "reasons", [])] or [str(error)]
            return [Problem(f"data/{paths.DATAPACKAGE}", None, None, m) for m in reasons]
        report = package.validate()
    problems = []
    for task in report.tasks:
        file = f"data/{Path(task.place).name}" if task.place else "data"
        for error in task.errors:
            problems.append(_problem(file, error))
    return problems


def _check_files(data: Path, descriptor: dict) -> tuple[list[Problem], dict[str, int]]:
    """Each table's file: present, UTF-8, its header the schema's field names in order.

    Returns the problems and, per file, the number of its last non-blank row (header = 1), so
    that blank lines at the end of a file can be ignored.
    """
    import csv

    problems, last_rows = [], {}
    for resource in descriptor["resources"]:
        file = f"data/{resource['path']}"
        path = data / resource["path"]
        if not path.is_file():
            problems.append(Problem(file, None, None, f"file missing (table '{resource['name']}'"
                                    f" of {paths.DATAPACKAGE} expects it at {path})"))  # fmt: skip
            continue
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            problems.append(_encoding_problem(file, raw, error))
            continue
        rows = list(csv.reader(io.StringIO(text, newline="")))
        expected = [f["name"] for f in resource["schema"]["fields"]]
        found = rows[0] if rows else []
        if found != expected:
            problems.append(Problem(file, 1, None, _header_difference(expected, found)))
        last = max((n for n, row in enumerate(rows, 1) if any(c.strip() for c in row)), default=1)
        last_rows[file] = last
    return problems, last_rows


def _encoding_problem(file: str, raw: bytes, error: UnicodeDecodeError) -> Problem:
    """Where a byte that is not UTF-8 sits: the file's row and the column holding it."""
    import csv

    start = raw.rfind(b"\n", 0, error.start) + 1
    row = raw.count(b"\n", 0, error.start) + 1
    end = raw.find(b"\n", error.start)
    line = raw[start : None if end < 0 else end].decode("utf-8", errors="replace")
    header = next(csv.reader([raw.split(b"\n", 1)[0].decode("utf-8", errors="replace")]))
    cells = next(csv.reader([line]), [])
    column = next((header[i] for i, c in enumerate(cells) if "\ufffd" in c and i < len(header)),
                  None)  # fmt: skip
    byte = raw[error.start : error.start + 1].hex()
    return Problem(file, row, column, f"byte 0x{byte} is not UTF-8 ({error.reason}); "
                   "save the file as UTF-8")  # fmt: skip


def _header_difference(expected: list[str], found: list[str]) -> str:
    """What differs between the schema's field names and the CSV header, column by column."""
    differences = [
        f"column {i}: expected '{want}', found '{have}'"
        for i, (want, have) in enumerate(zip(expected, found, strict=False), 1)
        if want != have
    ]
    if len(found) != len(expected):
        differences.append(f"expected {len(expected)} columns, found {len(found)}")
    return "header does not match the schema: " + "; ".join(differences)


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


#: This machine's record of the data packages that passed :func:`validate` (in the asset cache).
RECEIPTS_FILE = "validated-data.json"
#: How many validated packages the record keeps (most recent first).
RECEIPTS_KEPT = 32


@cache
def _validate_cached(data: Path, stamp: tuple) -> None:
    """Validate once per content stamp (names, sizes, modification times) of the data folder,
    unless the build already validated this exact content (:data:`VALIDATED_ENV`) or this
    machine did (:func:`validation_key`): the command line then answers in about a second
    instead of three."""
    receipt = os.environ.get(VALIDATED_ENV)
    if receipt and receipt == package_digest(data):
        return
    validate_once(data)


def validate_once(data: Path) -> None:
    """:func:`validate`, unless this machine already validated a package with the same
    :func:`validation_key`; a package that passes is remembered (the last
    :data:`RECEIPTS_KEPT`)."""
    key = validation_key(data)
    if key in _receipts():
        return
    validate(data)
    _remember_receipt(key)


def validation_key(data: Path) -> str:
    """What a validation's verdict depends on: the data files, the bibliography their sources
    are checked against (if the project has one), this library's code and Frictionless's
    version. Equal keys, equal verdicts (the checks of dates against today only ever turn a
    refusal into an acceptance as time passes, never the reverse)."""
    import hashlib
    from importlib.metadata import version

    digest = hashlib.sha256()
    digest.update(package_digest(data).encode())
    bib = bibliography(data)
    digest.update(hashlib.sha256(bib.read_bytes()).digest() if bib else b"no bibliography")
    for module in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(module.name.encode() + hashlib.sha256(module.read_bytes()).digest())
    digest.update(version("frictionless").encode())
    return digest.hexdigest()


def _receipts_path() -> Path:
    from llmbook import assets

    return assets.cache_dir() / RECEIPTS_FILE


def _receipts() -> list[str]:
    try:
        saved = json.loads(_receipts_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [k for k in saved if isinstance(k, str)] if isinstance(saved, list) else []


def _remember_receipt(key: str) -> None:
    """Record a successful validation (a failure to write only costs the next run a check)."""
    path = _receipts_path()
    kept = [key, *(k for k in _receipts() if k != key)][:RECEIPTS_KEPT]
    try:
        paths.write_atomically(path, json.dumps(kept, indent=0))
    except OSError:
        pass


#: Separator between the items of a ``source`` cell: "key: location ; key: location".
SOURCE_SEPARATOR = " ; "


def source_keys(cell: str) -> list[str]:
    """The bibliography keys cited in one ``source`` cell, in order, without repeats.

    >>> source_keys("brown2020language: §2.1 Table 2.1 ; openai2022chatgpt: blog post")
    ['brown2020language', 'openai2022chatgpt']
    """
    keys = [item.split(":", 1)[0].strip() for item in str(cell).split(SOURCE_SEPARATOR)]
    return list(dict.fromkeys(k for k in keys if k))


#: A bibliography key as ``source`` cells and ``book/references.bib`` spell it.
BIB_KEY = re.compile(r"[a-z0-9_-]+")
#: One item of a ``source`` cell: "bibkey: location" (no backticks: nothing of it is markup).
SOURCE_ITEM = re.compile(r"([a-z0-9_-]+): [^`\s][^`]*")
#: The bibliography that ``source`` keys must resolve in, relative to the project root.
BIBLIOGRAPHY = Path("book") / "references.bib"
#: Characters that would make a key (a name other tables and the chapters' Markdown use) markup:
#: backticks open code and roles ({download}`...`), braces name roles and directives.
MARKUP_IN_KEYS = re.compile(r"[`{}]")
#: C0 and C1 control characters (tab and newline included: no cell of the package needs them).
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: Largest value a pandas Int64 column (the type of every integer column) holds.
INT64_MAX = 2**63 - 1


def bibliography(data: Path) -> Path | None:
    """``book/references.bib`` of the project whose data folder is ``data``, if it exists."""
    path = Path(data).resolve().parent / BIBLIOGRAPHY
    return path if path.is_file() else None


def bibliography_keys(bib: Path) -> set[str]:
    """The entry keys of a BibTeX file."""
    return set(re.findall(r"@\w+\s*\{\s*([^,\s]+)\s*,", bib.read_text(encoding="utf-8")))


def check_cells(data: Path, descriptor: dict | None = None, today=None) -> list[Problem]:
    """The book's rules beyond the Table Schema, cell by cell; returns the problems found.

    - no control characters in any cell;
    - ``number`` cells finite (no ``inf``, ``nan``, ``1e309``), ``integer`` cells within int64;
    - ``date`` and ``yearmonth`` cells not after ``today`` (default: the date of the check);
    - key columns (primary and foreign keys) free of backticks and braces, and primary keys
      unique ignoring case (lookups ignore case);
    - every item of a ``source`` cell "bibkey: location", its key in ``book/references.bib``
      (when the project has one next to ``data``).
    """
    import csv
    import datetime as dt
    import math

    data = Path(data).resolve()
    descriptor = descriptor or _descriptor(data)
    today = today or dt.datetime.now(dt.UTC).date()
    bib = bibliography(data)
    known_keys = bibliography_keys(bib) if bib else None
    problems = []
    for resource in descriptor["resources"]:
        file = f"data/{resource['path']}"
        fields = resource["schema"]["fields"]
        kinds = {f["name"]: f.get("type", "string") for f in fields}
        primary = resource["schema"].get("primaryKey") or []
        primary = [primary] if isinstance(primary, str) else list(primary)
        keyed = set(primary)
        for fk in resource["schema"].get("foreignKeys", []):
            keyed |= set([fk["fields"]] if isinstance(fk["fields"], str) else fk["fields"])
        seen: dict[tuple, int] = {}
        text = (data / resource["path"]).read_text(encoding="utf-8")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        for row_number, row in enumerate(reader, 2):
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue  # a blank row: the Table Schema check reports it (or tolerates it last)
            for column, cell in row.items():
                if not isinstance(cell, str) or column not in kinds:
                    continue
                message = _cell_problem(kinds[column], cell, today, math)
                if message is None and column in keyed and MARKUP_IN_KEYS.search(cell):
                    message = (f"{cell!r} contains a backtick or brace; names may not carry "
                               "markup (they are printed in the chapters' text)")  # fmt: skip
                if message is None and column == "source" and cell:
                    message = _source_problem(cell, known_keys, bib)
                if message:
                    problems.append(Problem(file, row_number, column, message))
            if primary and all(row.get(c) for c in primary):
                folded = tuple(str(row[c]).casefold() for c in primary)
                if folded in seen:
                    values = ", ".join(repr(row[c]) for c in primary)
                    problems.append(Problem(
                        file, row_number, primary[0],
                        f"{values} repeats row {seen[folded]} ignoring case; names are looked "
                        "up ignoring case, so keys must differ in more than case",
                    ))  # fmt: skip
                else:
                    seen[folded] = row_number
    return problems


def _cell_problem(kind: str, cell: str, today, math) -> str | None:
    """What is wrong with one cell beyond its schema type, or None."""
    control = CONTROL.search(cell)
    if control:
        return (f"control character U+{ord(control.group()):04X} in {cell!r}; "
                "remove it (cells are plain text on one line)")  # fmt: skip
    if not cell:
        return None
    if kind == "number":
        try:
            value = float(cell)
        except ValueError:
            return None  # not a number: the Table Schema check reports it
        if not math.isfinite(value):
            return f"{cell!r} is not a finite number; give the value or leave the cell empty"
    elif kind == "integer":
        try:
            value = int(cell)
        except ValueError:
            return None
        if abs(value) > INT64_MAX:
            return f"{cell!r} is too large for a 64-bit integer (at most {INT64_MAX})"
    elif kind in ("date", "yearmonth"):
        try:
            parts = [int(p) for p in cell.split("-")]
        except ValueError:
            return None
        limit = (today.year, today.month, today.day)[: len(parts)]
        if tuple(parts) > limit:
            return (f"{cell!r} is after the date of this check ({today.isoformat()}); "
                    "a fact cannot come from the future")  # fmt: skip
    return None


def _source_problem(cell: str, known_keys: set[str] | None, bib: Path | None) -> str | None:
    """What is wrong with a ``source`` cell: an item not "bibkey: location", or an unknown key."""
    for number, item in enumerate(cell.split(SOURCE_SEPARATOR), 1):
        match = SOURCE_ITEM.fullmatch(item.strip())
        if not match:
            return (f"item {number} {item.strip()!r} is not 'bibkey: location' (key of lower-case "
                    f"letters, digits, '_' or '-'; items separated by '{SOURCE_SEPARATOR}'; "
                    "no backticks)")  # fmt: skip
        if known_keys is not None and match.group(1) not in known_keys:
            return (f"item {number}: key '{match.group(1)}' is not in {bib}; "
                    "add the entry there (README, 'Adding a model')")  # fmt: skip
    return None


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
    """A MyST paragraph citing every bibliography key used in ``frame[column]``, sorted.

    Each key becomes a ``{cite:t}`` role, so a key must be a bibliography key and nothing else:
    anything else raises ValueError (cell text never reaches the Markdown parser).
    """
    keys = sorted({key for cell in frame[column].dropna() for key in source_keys(cell)})
    bad = [key for key in keys if not BIB_KEY.fullmatch(key)]
    if bad:
        raise ValueError(
            f"not bibliography keys (lower-case letters, digits, '_', '-'): {bad}; "
            "`llmbook validate` names the cells"
        )
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


def empty_facts(table: str, columns: list[str], data: Path | None = None) -> pd.DataFrame:
    """The rows of ``table`` with an empty cell among ``columns``: its key (the first
    primary-key column), the empty columns by name, and the row's ``notes``, which say what the
    primary source states and does not. The data appendix lists these, so that every cell the
    sources leave empty has its reason one click away."""
    frame = load(table, data)
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise KeyError(f"{table} has no column {', '.join(map(repr, unknown))}")
    key = schema(table, data)["primaryKey"][0]
    empty = frame[columns].isna()
    rows = frame[empty.any(axis=1)]
    return pd.DataFrame(
        {
            key: rows[key].astype(str).to_numpy(),
            "empty": [", ".join(c for c in columns if empty.at[i, c]) for i in rows.index],
            "what the sources state": rows["notes"].fillna("").astype(str).to_numpy()
            if "notes" in rows
            else "",
        }
    )
