"""llmbook.tables: offline interactive tables with escaped cells and stable ids."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from llmbook import tables


def test_static_url_mirrors_the_page_depth(tmp_path):
    page = tmp_path / "book" / "part1"
    page.mkdir(parents=True)
    assert tables.static_url(page, tmp_path) == "../../_static"
    assert tables.static_url(tmp_path, tmp_path) == "_static"


def test_interactive_escapes_cells_and_uses_the_local_bundle(root, monkeypatch):
    monkeypatch.chdir(root / "book" / "part1-base-models")
    frame = pd.DataFrame({"model": ["<script>alert(1)</script>"], "params": [1.0]})
    html = tables.interactive(frame, table_id="demo").data
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "../../_static/dt_bundle.js" in html
    assert 'id="table-demo"' in html
    assert "http" not in html.split('<script type="module">', 1)[1].split("</script>")[0]


def test_interactive_is_deterministic(root, monkeypatch):
    monkeypatch.chdir(root / "book")
    frame = pd.DataFrame({"a": [1, 2]})
    assert tables.interactive(frame, "t").data == tables.interactive(frame, "t").data


def test_table_id_must_be_html_safe():
    with pytest.raises(ValueError, match="table_id"):
        tables.interactive(pd.DataFrame({"a": [1]}), table_id='x" onload="y')


def test_bundle_files_exist():
    for path in tables.itables_asset_paths():
        assert Path(path).is_file()


def test_numeric_text_columns_sort_as_numbers(root, monkeypatch):
    frame = pd.DataFrame({"model": ["a", "b"], "params (B)": ["6.7", ""], "note": ["1 x", "2"]})
    assert tables.numeric_text_columns(frame) == [1]
    monkeypatch.chdir(root / "book")
    html = tables.interactive(frame, "t").data
    assert '"columnDefs": [{"targets": [1], "type": "num"}]' in html
