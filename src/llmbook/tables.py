"""Tables a reader can sort and search, rendered by itables (DataTables) with no network.

itables normally loads its JavaScript bundle from a CDN; the book must work offline and must not
depend on a third party at read time. :func:`interactive` points itables at a copy of its bundle
in the site's ``_static`` folder (copied there by :mod:`llmbook.sphinx_ext`), addressed relative
to the page, and gives each table a fixed id so two builds produce the same HTML. Cell text is
HTML-escaped by itables (``allow_html`` stays off), so a CSV cell can never inject markup.
"""

from __future__ import annotations

import functools
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from llmbook import paths
from llmbook.paths import ITABLES_ASSETS, STATIC_DIR, itables_asset_paths  # noqa: F401

TABLE_ID_PREFIX = "table-"


def static_url(page_dir: Path | None = None, root: Path | None = None) -> str:
    """URL of the site's ``_static`` folder relative to the page built from ``page_dir``.

    The HTML builder mirrors the source tree, so a page built from ``book/part1/x.md`` lives at
    ``book/part1/x.html`` and reaches ``_static`` through ``../../_static``.
    """
    page_dir = (page_dir or Path.cwd()).resolve()
    root = (root or paths.project_root(page_dir)).resolve()
    return Path(os.path.relpath(root, page_dir), STATIC_DIR).as_posix()


def numeric_text_columns(frame: pd.DataFrame) -> list[int]:
    """Positions of text columns whose non-empty cells all read as numbers ("6.7", "1e+03")."""
    positions = []
    for position, (_, column) in enumerate(frame.items()):
        if pd.api.types.is_numeric_dtype(column):
            continue
        cells = [str(v) for v in column if not pd.isna(v) and str(v) != ""]
        if cells and pd.to_numeric(pd.Series(cells), errors="coerce").notna().all():
            positions.append(position)
    return positions


#: A text cell longer than this (characters) is shown folded in the interactive table: its first
#: :data:`FOLDED_CHARS` characters as a toggle that opens to the whole text. Long notes then stay
#: one click away without widening the table past the text column.
LONG_TEXT_CHARS = 90
FOLDED_CHARS = 70
#: DataTables renderer of folded cells. The data it receives is already HTML-escaped by itables
#: (``allow_html`` off), so it only wraps it; the cut never splits an entity such as ``&amp;``.
#: Sorting and search use the whole text (``type`` other than "display").
FOLD_JS = (
    (
        "function (data, type) {"
        " if (type !== 'display' || typeof data !== 'string' || data.length <= LONG) {"
        " return data; }"
        " let cut = data.slice(0, FOLDED);"
        " const amp = cut.lastIndexOf('&');"
        " if (amp > cut.lastIndexOf(';')) { cut = cut.slice(0, amp); }"
        " return '<details class=\"llmbook-fold\"><summary>' + cut + '…</summary>' + data"
        " + '</details>';"
        " }"
    )
    .replace("LONG", str(LONG_TEXT_CHARS))
    .replace("FOLDED", str(FOLDED_CHARS))
)


def long_text_columns(frame: pd.DataFrame, limit: int = LONG_TEXT_CHARS) -> list[int]:
    """Positions of the text columns with a cell longer than ``limit`` characters."""
    out = []
    for i, column in enumerate(frame.columns):
        values = frame[column].dropna()
        if len(values) and values.map(lambda v: isinstance(v, str) and len(v) > limit).any():
            out.append(i)
    return out


#: A cell that opens with a count as :func:`count` writes it ("82,612 instances", "52K
#: instructions (rounded)", "1.1M", "23"): digits, optional grouping commas and decimals, an
#: optional K/M/B/T, then a space or the end of the cell.
COUNT_PREFIX = re.compile(r"^\d[\d,]*(?:\.\d+)?[KMBT]?(?=\s|$)")
#: DataTables renderer of such columns: readers see the cell, sorting uses its count
#: ("52K ..." sorts as 52000, after "8,000 ..."); a cell without a count (a dash) sorts first.
#: Written with the same pattern as COUNT_PREFIX.
COUNT_SORT_JS = (
    "function (data, type) {"
    " if (type === 'display' || type === 'filter' || typeof data !== 'string') { return data; }"
    " const m = data.match(/^(\\d[\\d,]*(?:\\.\\d+)?)([KMBT]?)(?=\\s|$)/);"
    " if (!m) { return ''; }"
    " const scale = {'': 1, K: 1e3, M: 1e6, B: 1e9, T: 1e12}[m[2]];"
    " return parseFloat(m[1].replace(/,/g, '')) * scale;"
    " }"
)


def count_text_columns(frame: pd.DataFrame) -> list[int]:
    """Positions of text columns whose cells, but for empty ones and dashes, all open with a
    count (:data:`COUNT_PREFIX`), one at least written with a K/M/B/T or grouping commas as
    :func:`count` writes it: "52K instructions" or "1,836" would sort as text. Plain numbers
    are :func:`numeric_text_columns`."""
    plain = set(numeric_text_columns(frame))
    positions = []
    for position, (_, column) in enumerate(frame.items()):
        if position in plain or pd.api.types.is_numeric_dtype(column):
            continue
        cells = [str(v) for v in column if not pd.isna(v) and str(v) not in ("", DASH)]
        counts = [COUNT_PREFIX.match(cell) for cell in cells]
        written = any(m and (m.group()[-1] in "KMBT" or "," in m.group()) for m in counts)
        if cells and all(counts) and written:
            positions.append(position)
    return positions


def interactive(frame: pd.DataFrame, table_id: str, **options):
    """An IPython HTML object showing ``frame`` as a sortable, searchable table.

    ``table_id`` must be unique on the page; the HTML id is ``table-<table_id>``, prefixed so it
    cannot collide with the ids Sphinx gives headings (a section "Base models" gets
    ``base-models``). Extra keyword arguments
    go to ``itables.to_html_datatable`` (for example ``pageLength`` or ``column_filters``).
    """
    from IPython.display import HTML
    from itables import to_html_datatable

    if not table_id.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"table_id must be letters, digits, '-' or '_', got {table_id!r}")
    # DataTables would fix each column's width from its widest cell when the table loads, wider
    # than the text column; without that the cells wrap to the column's width.
    options.setdefault("autoWidth", False)
    numeric = numeric_text_columns(frame)
    if "columnDefs" not in options:
        options["columnDefs"] = []
        if numeric:
            # Text cells such as "6.7" and "" sort as text unless DataTables is told they are
            # numbers.
            options["columnDefs"].append({"targets": numeric, "type": "num"})
        counted = count_text_columns(frame)
        if counted:
            from itables import JavascriptFunction

            options["columnDefs"].append(
                {"targets": counted, "type": "num", "render": JavascriptFunction(COUNT_SORT_JS)}
            )
        folded = long_text_columns(frame)
        if folded:
            from itables import JavascriptFunction

            fold = JavascriptFunction(FOLD_JS)
            options["columnDefs"].append(
                {"targets": folded, "className": "llmbook-long", "render": fold}
            )
        if not options["columnDefs"]:
            del options["columnDefs"]
    html = to_html_datatable(
        frame,
        table_id=f"{TABLE_ID_PREFIX}{table_id}",
        connected=True,
        dt_url=f"{static_url()}/dt_bundle.js",
        display_logo_when_loading=False,
        showIndex=False,
        **options,
    )
    return HTML(offline_fallback(html, frame, f"{TABLE_ID_PREFIX}{table_id}"))


#: itables' placeholder row inside the table it will fill (a link to the internet).
_LOADING_ROW = re.compile(r"<tbody>\s*<tr>\s*<td[^>]*>\s*Loading ITables.*?</tbody>", re.DOTALL)
#: The JavaScript call that builds an interactive table inside itables' module script.
_ITABLE_CALL = "new ITable(table, dt_args);"


def offline_fallback(html: str, frame: pd.DataFrame, html_id: str) -> str:
    """itables' HTML with every row of ``frame`` shown until the interactive table has loaded.

    itables shows a static preview (one page of rows) and swaps it for the interactive table
    with an inline script that runs whether or not its module can load; a page opened as a file
    (``file://``) cannot import a module script, so the reader saw "Loading ITables ... from the
    internet" instead of the data. Here the preview holds every row (escaped, missing values
    empty, no link to the internet) and the swap happens inside the module script, after the
    bundle has been imported. Raises RuntimeError if itables' HTML is not shaped as expected
    (a new itables version): the pinned version is tested.
    """
    fallback_id = f"{html_id}_fallback"
    start = html.find(f'\n<div id="{fallback_id}">')
    swap = (
        "<script>"
        f'document.getElementById("{html_id}")?.removeAttribute("hidden");'
        f'document.getElementById("{fallback_id}")?.setAttribute("hidden", "hidden");'
        "</script>"
    )
    end = html.find(swap, max(start, 0))
    if start < 0 or end < 0 or html.count(_ITABLE_CALL) != 1:
        raise RuntimeError("itables' HTML changed: update llmbook.tables.offline_fallback")
    rows = _table_html(frame, None, None, css_class="table llmbook-static llmbook-fallback")
    html = html[:start] + f'\n<div id="{fallback_id}">{rows}</div>' + html[end + len(swap) :]
    # The hidden placeholder's "Loading ITables ... from the internet" row: never true here.
    html = _LOADING_ROW.sub("<tbody></tbody>", html, count=1)
    return html.replace(
        _ITABLE_CALL,
        'table.removeAttribute("hidden");\n        '
        f'document.getElementById("{fallback_id}")?.setAttribute("hidden", "hidden");\n        '
        + _ITABLE_CALL,
    )


def static(frame: pd.DataFrame, row_ids: list[str] | None = None, caption: str | None = None):
    """An IPython HTML object: a plain table whose rows can be linked to (``#<row id>``).

    Every cell is HTML-escaped; ``row_ids`` (one per row) become the rows' ``id`` attributes,
    so another page can link to a single row. Missing values are shown as empty cells.
    """
    from IPython.display import HTML

    return HTML(_table_html(frame, row_ids, caption))


def _table_html(
    frame: pd.DataFrame,
    row_ids: list[str] | None,
    caption: str | None,
    css_class: str = "table llmbook-static",
) -> str:
    """The HTML of a plain table: every cell escaped, missing values empty."""
    from html import escape

    if row_ids is not None and len(row_ids) != len(frame):
        raise ValueError(f"row_ids has {len(row_ids)} ids for {len(frame)} rows")
    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for i, (_, row) in enumerate(frame.iterrows()):
        cells = "".join(f"<td>{'' if pd.isna(v) else escape(str(v))}</td>" for v in row)
        rid = f' id="{escape(row_ids[i], quote=True)}"' if row_ids is not None else ""
        rows.append(f"<tr{rid}>{cells}</tr>")
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (
        f'<table class="{css_class}">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


# --- Tables for readers: one formatter, and the detector the site test uses -------------------

#: What a reader sees for a missing value; the reason goes in a note under the table.
DASH = "\u2013"
_SCALES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def short_count(value: float, digits: int = 2) -> str:
    """A count as a reader compares it: 4_700_000 -> '4.7M', 1.4e12 -> '1.4T', 512 -> '512'.

    ``digits`` significant digits at most, trailing zeros dropped."""
    value = float(value)
    sign = "-" if value < 0 else ""
    size = abs(value)
    for scale, suffix in _SCALES:
        if size >= scale:
            text = f"{size / scale:.{digits}g}"
            if "e" in text:  # 1000T and beyond: keep the digits readable
                text = f"{size / scale:,.0f}"
            return f"{sign}{text}{suffix}"
    return f"{sign}{size:.{digits}g}" if size != int(size) else f"{sign}{int(size)}"


def dollars(value: float) -> str:
    """Dollars for a reader, millions and billions to three significant figures: 2.5 -> '$2.50',
    66.96 -> '$67', 2790 -> '$2,790', 229985 -> '$230K', 5.576e6 -> '$5.58M',
    106.42e6 -> '$106M', 1.234e9 -> '$1.23B'."""
    value = float(value)
    if value < 0:
        raise ValueError(f"a cost cannot be negative, got {value}")
    for unit, scale in (("B", 1e9), ("M", 1e6)):
        if value >= scale:
            scaled = value / scale
            decimals = 2 if scaled < 10 else 1 if scaled < 100 else 0
            return f"${scaled:,.{decimals}f}{unit}"
    if value >= 1e4:
        return f"${value / 1e3:.0f}K"
    if value >= 10:
        return f"${value:,.0f}"
    return f"${value:,.2f}"


def percent(value: float, decimals: int = 1) -> str:
    """A share for a reader: 0.0731 -> '7.3%'; a positive share that would print as zero reads
    '<0.1%' (at ``decimals`` 1), never '0.0%', which says something else."""
    value = float(value)
    text = f"{value:.{decimals}%}"
    floor = 10.0**-decimals
    if 0 < value * 100 < floor / 2:
        return f"<{floor:.{decimals}f}%"
    return text


def exact_count(value: float) -> str:
    """A count to the unit, digits grouped: 2359296.0 -> '2,359,296'."""
    return f"{int(round(float(value))):,}"


def count(value: float) -> str:
    """A count as its source gives it: '4.7M' when that loses nothing (4_700_000.0, 37_700_000),
    else every digit grouped ('2,359,296'), so a published or computed exact count stays exact."""
    value = float(value)
    for digits in (1, 2, 3):
        text = short_count(value, digits)
        if text[-1] in "KMBT":
            scale = dict((s, f) for f, s in _SCALES)[text[-1]]
            if float(text[:-1]) * scale == value:
                return text
    return exact_count(value) if value == int(value) else short_count(value, 3)


def _is_missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


@functools.lru_cache(maxsize=4)
def bibliography_names(bib_path: str | None = None) -> dict[str, str]:
    """Map each key of book/references.bib to a reader's name: 'Hu et al. 2021'."""
    import pybtex.database

    path = Path(bib_path) if bib_path else paths.project_root() / "book" / "references.bib"
    names = {}
    for key, entry in pybtex.database.parse_file(str(path)).entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        year = entry.fields.get("year", "")
        if people:
            last = " ".join(people[0].last_names).replace("{", "").replace("}", "")
            who = last + (
                " et al."
                if len(people) > 2
                else f" and {' '.join(people[1].last_names)}"
                if len(people) == 2
                else ""
            )
        else:
            who = entry.fields.get("organization") or entry.fields.get("institution") or ""
            who = who.replace("{", "").replace("}", "") or entry.fields.get("title", key)
        who = who.replace("{", "").replace("}", "")
        names[key] = f"{who} {year or 'n.d.'}".strip()
    return names


def source_text(cell, names: dict[str, str] | None = None) -> str:
    """A ``source`` cell as a reader reads it: each "bibkey: location" item with the key replaced
    by the work's name from book/references.bib ("raffel2020exploring: §3.7" becomes "Raffel
    et al. 2020: §3.7"); items joined by "; ". A missing cell is an empty string; a key the
    bibliography lacks is left as written (``llmbook validate`` refuses such cells)."""
    from llmbook.catalog import SOURCE_SEPARATOR

    if _is_missing(cell):
        return ""
    names = bibliography_names() if names is None else names
    items = []
    for item in str(cell).split(SOURCE_SEPARATOR):
        key, _, where = item.strip().partition(":")
        name = names.get(key.strip(), key.strip())
        items.append(f"{name}: {where.strip()}" if where.strip() else name)
    return "; ".join(items)


def reader_table(
    frame: pd.DataFrame,
    kinds: dict[str, str],
    units: dict[str, str] | None = None,
    missing_reasons: dict[str, str] | None = None,
    names: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Cells as text a reader can read, and the notes that go under the table.

    ``kinds`` maps a column to how its cells read: ``count`` (4.7M when exact, else 2,359,296),
    ``approx`` (rounded to 3 significant digits: 4,718,592 -> 4.72M), ``exact`` (2,359,296),
    ``int``, ``pct`` (a fraction as 12.5%), ``fixed1``/``fixed2``/``fixed3`` (decimals),
    ``cite`` (a bibliography key as 'Hu et al. 2021', from ``names`` or book/references.bib).
    Other columns are shown as text. ``units`` adds the unit to a column's header
    ('Memory (GB)'). A missing value reads as an en dash; each column with one gets a note
    giving the reason from ``missing_reasons`` (a column without a reason raises, so no dash
    goes unexplained).
    """
    units = units or {}
    missing_reasons = missing_reasons or {}
    unknown = set(kinds) - set(frame.columns)
    if unknown:
        raise KeyError(f"kinds name columns not in the table: {sorted(unknown)}")
    out = pd.DataFrame(index=frame.index)
    notes = []
    for name, column in frame.items():
        kind = kinds.get(name, "text")
        if kind == "cite" and names is None:
            names = bibliography_names()
        cells = []
        for value in column:
            if _is_missing(value) or (isinstance(value, str) and value.strip() == ""):
                cells.append(DASH)
            elif kind == "count":
                cells.append(count(value))
            elif kind == "approx":
                cells.append(short_count(value, 3))
            elif kind == "exact":
                cells.append(exact_count(value))
            elif kind == "int":
                cells.append(f"{int(round(float(value)))}")
            elif kind == "pct":
                cells.append(f"{float(value):.1%}")
            elif kind.startswith("fixed"):
                cells.append(f"{float(value):,.{int(kind[5:] or 1)}f}")
            elif kind == "cite":
                cells.append(names.get(str(value), str(value)) if names else str(value))
            elif kind == "text":
                cells.append(str(value))
            else:
                raise ValueError(f"unknown column kind {kind!r} for {name!r}")
        header = f"{name} ({units[name]})" if name in units else str(name)
        out[header] = cells
        if DASH in cells:
            if name not in missing_reasons:
                raise ValueError(f"column {name!r} has missing values and no reason for them")
            notes.append(f"{header}: {DASH} means {missing_reasons[name]}")
    return out, notes


_RAW_FLOAT = re.compile(r"^-?\d{4,}\.0$")
_NOT_A_VALUE = {"<NA>", "NaN", "nan", "None", "NaT", "<na>"}


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self._depth, self._text = [], 0, []

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th"):
            self._depth += 1
            self._text = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._depth:
            self._depth -= 1
            self.cells.append(" ".join("".join(self._text).split()))

    def handle_data(self, data):
        if self._depth:
            self._text.append(data)


def table_cells(html: str) -> list[str]:
    """The text of every table cell (td, th) of a page, whitespace collapsed."""
    parser = _Cells()
    parser.feed(html)
    return parser.cells + _itables_cells(html)


_DATA_JSON = re.compile(r'"data_json":\s*("(?:[^"\\]|\\.)*")')


def _itables_cells(html: str) -> list[str]:
    """Cells an itables table holds in its script (the browser renders them page by page);
    a cell given as [shown, sort key] counts by what is shown."""
    import json

    cells = []
    for literal in _DATA_JSON.findall(html):
        for row in json.loads(json.loads(literal)):
            for cell in row:
                shown = cell[0] if isinstance(cell, list) else cell
                cells.append(" ".join(str(shown).split()))
    return cells


def unfinished_cells(html: str, bib_keys=()) -> list[str]:
    """Cells a reader should never see: a raw float count ('4700000.0'), '<NA>'/'NaN'/'None',
    a cell that is exactly a bibliography key, or a raw ``source`` cell ("hu2021lora: Table 4"
    instead of "Hu et al. 2021: Table 4", :func:`source_text`)."""
    keys = set(bib_keys)

    def raw_source(cell: str) -> bool:
        return any(m.group(1) in keys for m in _SOURCE_ITEM_START.finditer(cell))

    return [
        cell
        for cell in table_cells(html)
        if _RAW_FLOAT.match(cell) or cell in _NOT_A_VALUE or cell in keys or raw_source(cell)
    ]


#: Where a "bibkey: location" item of a raw source cell starts: the cell's start or after ";".
_SOURCE_ITEM_START = re.compile(r"(?:^|;)\s*([a-z0-9_-]+)\s*:")


def cut_descriptions(html: str, descriptions) -> list[str]:
    """The ``descriptions`` (the data package's column descriptions) that no cell of the page
    shows whole: a description cut at 50 characters by pandas' display is one of them."""
    cells = set(table_cells(html))
    return [d for d in descriptions if " ".join(str(d).split()) not in cells]


#: Run in the browser: tables wider than the text column (the article's width inside its padding;
#: the page's main area, which includes the contents sidebar, is wider and is not the limit).
WIDE_TABLES_JS = """
() => {
  const column = document.querySelector('article.bd-article, article') || document.body;
  const style = getComputedStyle(column);
  const limit = column.clientWidth - parseFloat(style.paddingLeft)
                - parseFloat(style.paddingRight) + 1;
  return [...document.querySelectorAll('table')]
    .filter(t => t.offsetParent !== null && t.getBoundingClientRect().width > limit)
    .map(t => (t.id || t.className || 'table') + ' ' + Math.round(t.getBoundingClientRect().width)
              + 'px > ' + Math.round(limit) + 'px');
}
"""
