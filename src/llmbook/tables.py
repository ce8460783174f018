"""Tables a reader can sort and search, rendered by itables (DataTables) with no network.

itables normally loads its JavaScript bundle from a CDN; the book must work offline and must not
depend on a third party at read time. :func:`interactive` points itables at a copy of its bundle
in the site's ``_static`` folder (copied there by :mod:`llmbook.sphinx_ext`), addressed relative
to the page, and gives each table a fixed id so two builds produce the same HTML. Cell text is
HTML-escaped by itables (``allow_html`` stays off), so a CSV cell can never inject markup.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from llmbook import paths

#: Files of the itables package that the site serves from ``_static``.
ITABLES_ASSETS = ("dt_bundle.js", "dt_bundle.css")
STATIC_DIR = "_static"
TABLE_ID_PREFIX = "table-"


def itables_asset_paths() -> list[Path]:
    """Paths of the itables bundle files inside the installed itables package."""
    import itables

    folder = Path(itables.__file__).parent / "html"
    return [folder / name for name in ITABLES_ASSETS]


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
    numeric = numeric_text_columns(frame)
    if numeric and "columnDefs" not in options:
        # Text cells such as "6.7" and "" sort as text unless DataTables is told they are numbers.
        options["columnDefs"] = [{"targets": numeric, "type": "num"}]
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
