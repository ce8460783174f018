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


def test_counts_read_as_a_reader_compares_them():
    assert tables.short_count(4_700_000.0) == "4.7M"
    assert tables.short_count(1.4e12) == "1.4T"
    assert tables.short_count(7e9) == "7B"
    assert tables.short_count(512) == "512"
    assert tables.short_count(-2500) == "-2.5K"
    assert tables.exact_count(2359296.0) == "2,359,296"
    assert tables.count(4_700_000.0) == "4.7M"
    assert tables.count(37_700_000.0) == "37.7M"
    assert tables.count(2359296.0) == "2,359,296"
    assert tables.count(175e9) == "175B"


def test_reader_table_formats_by_kind_adds_units_and_explains_dashes():
    frame = pd.DataFrame(
        {
            "method": ["LoRA", "Adapters"],
            "params": [4_700_000.0, None],
            "exact": [2359296.0, 1000.0],
            "share": [0.125, 0.5],
            "source": ["hu2021lora", "houlsby2019parameter"],
        }
    )
    names = {"hu2021lora": "Hu et al. 2021", "houlsby2019parameter": "Houlsby et al. 2019"}
    out, notes = tables.reader_table(
        frame,
        {"params": "count", "exact": "exact", "share": "pct", "source": "cite"},
        units={"params": "parameters"},
        missing_reasons={"params": "the paper does not report it"},
        names=names,
    )
    assert list(out.columns) == ["method", "params (parameters)", "exact", "share", "source"]
    assert out.iloc[0].tolist() == ["LoRA", "4.7M", "2,359,296", "12.5%", "Hu et al. 2021"]
    assert out.iloc[1, 1] == tables.DASH
    assert notes == [f"params (parameters): {tables.DASH} means the paper does not report it"]
    with pytest.raises(ValueError, match="no reason"):
        tables.reader_table(frame, {"params": "count"})
    with pytest.raises(KeyError):
        tables.reader_table(frame, {"nope": "count"})


def test_bibliography_keys_become_names(root):
    names = tables.bibliography_names(str(root / "book" / "references.bib"))
    assert names and all(name and name not in names for name in names.values())
    assert not any("{" in name or "}" in name for name in names.values())
    assert names["raffel2020exploring"] == "Raffel et al. 2020"


def test_detector_finds_unfinished_cells_and_spares_finished_ones():
    html = (
        "<table><tr><th>n</th><td>4700000.0</td><td>&lt;NA&gt;</td><td>NaN</td><td>None</td>"
        "<td>hu2021lora</td><td>4.7M</td><td>2,359,296</td><td>0.5</td><td>\u2013</td>"
        "<td>Hu et al. 2021</td><td>2021.5</td></tr></table>"
    )
    found = tables.unfinished_cells(html, bib_keys={"hu2021lora"})
    assert found == ["4700000.0", "<NA>", "NaN", "None", "hu2021lora"]
    assert tables.unfinished_cells("<table><tr><td>4.7M</td></tr></table>", {"x"}) == []


def test_detector_finds_cut_descriptions():
    whole = "Parameter count of the model as stated in the primary source."
    html = f"<table><tr><td>{whole[:46]}…</td><td>Identifier, C01, C02, ...</td></tr></table>"
    assert tables.cut_descriptions(html, [whole, "Identifier, C01, C02, ..."]) == [whole]
    html = f"<table><tr><td>{whole}</td></tr></table>"
    assert tables.cut_descriptions(html, [whole]) == []


def test_detector_reads_the_cells_an_itables_table_keeps_in_its_script():
    frame = pd.DataFrame({"a": [4700000.0, None], "b": ["4.7M", "hu2021lora"]})
    html = tables.interactive(frame, "t").data
    found = tables.unfinished_cells(html, {"hu2021lora"})
    assert "4700000.0" in found and "hu2021lora" in found and "NaN" in found
    finished, _ = tables.reader_table(
        frame,
        {"a": "count", "b": "cite"},
        missing_reasons={"a": "not reported"},
        names={"hu2021lora": "Hu et al. 2021"},
    )
    assert tables.unfinished_cells(tables.interactive(finished, "t").data, {"hu2021lora"}) == []


def test_a_page_opened_as_a_file_shows_every_row_without_the_internet(root, monkeypatch):
    """Issue 24: without its module (file://) the table shows all rows statically; itables'
    'Loading ITables ... from the internet' preview and any remote link are gone, and the swap
    to the interactive table happens only inside the module script."""
    monkeypatch.chdir(root / "book" / "part1-base-models")
    frame = pd.DataFrame({"model": [f"m{i}" for i in range(40)], "size": range(40)})
    html = tables.interactive(frame, table_id="rows").data
    fallback = html.split('<div id="table-rows_fallback">', 1)[1].split("</div>", 1)[0]
    assert all(f"<td>m{i}</td>" in fallback for i in range(40))  # more rows than one page
    assert "Loading" not in html and "internet" not in html.lower()
    assert "https://" not in html and "http://" not in html
    module = html.split('<script type="module">', 1)[1].split("</script>", 1)[0]
    assert "table-rows_fallback" in module  # hidden only once the bundle has loaded


def test_source_cells_read_as_names_and_raw_ones_are_flagged():
    names = {"hu2021lora": "Hu et al. 2021", "raffel2020exploring": "Raffel et al. 2020"}
    cell = "hu2021lora: Table 4 ; raffel2020exploring: §3.7"
    assert tables.source_text(cell, names) == "Hu et al. 2021: Table 4; Raffel et al. 2020: §3.7"
    assert tables.source_text(None, names) == ""
    html = f"<table><tr><td>{cell}</td><td>{tables.source_text(cell, names)}</td></tr></table>"
    assert tables.unfinished_cells(html, names) == [cell]
    assert tables.unfinished_cells("<table><tr><td>ratio: 3</td></tr></table>", names) == []


def test_dollars_read_as_a_reader_compares_them():
    assert tables.dollars(2.5) == "$2.50"
    assert tables.dollars(66.96) == "$67"
    assert tables.dollars(140) == "$140"
    assert tables.dollars(2790) == "$2,790"
    assert tables.dollars(229_985) == "$230K"
    assert tables.dollars(5.576e6) == "$5.58M"
    assert tables.dollars(1.234e9) == "$1.23B"
    assert tables.dollars(106.42e6) == "$106M"
    assert tables.dollars(12.345e6) == "$12.3M"
    assert tables.dollars(2.5e12) == "$2,500B"
    with pytest.raises(ValueError):
        tables.dollars(-1)


def test_long_text_columns_are_folded_and_stay_escaped():
    """Cells longer than LONG_TEXT_CHARS are folded by a DataTables renderer (a toggle with the
    opening words), so a notes column no longer widens a table past the text column; itables
    still escapes the data the renderer wraps."""
    frame = pd.DataFrame({"model": ["A", "B"], "notes": ["short", "<b>x</b> " + "long " * 30]})
    assert tables.long_text_columns(frame) == [1]
    html = tables.interactive(frame, "t").data
    assert "llmbook-long" in html and "<details" in html  # the renderer is in the page
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert tables.long_text_columns(frame[["model"]]) == []


def test_percent_never_prints_a_positive_share_as_zero():
    assert tables.percent(0.0731) == "7.3%"
    assert tables.percent(0.00049) == "<0.1%"
    assert tables.percent(0.0005) == "0.1%"
    assert tables.percent(0.0) == "0.0%"
    assert tables.percent(0.004, decimals=0) == "<1%"


def test_count_text_columns_sort_by_their_count(root, monkeypatch):
    """A column of counts written for readers ("52K instructions (rounded)", "1,836", a dash for
    a missing one) sorts by the count, not as text: DataTables gets a renderer that reads it."""
    frame = pd.DataFrame(
        {
            "dataset": ["a", "b", "c", "d"],
            "examples": ["52K instructions (rounded)", "82,612 instances", tables.DASH, "1.1M"],
            "tasks": ["1,836", "23", tables.DASH, ""],
            "size (B)": ["6.7", "", "70", "7"],  # plain numbers: sorted as numbers already
            "released": ["2019-10", "2020-05", "", "2021-01"],  # a date is not a count
            "languages": ["46 languages", "en", "zh", tables.DASH],  # not every cell a count
            "year": ["2022", tables.DASH, "2023", "2021"],  # no K/M/B/T, no commas: text sorts
        }
    )
    assert tables.count_text_columns(frame) == [1, 2]
    for cell in ("52K", "82,612 instances", "1.1M dialogues (rounded)", "23"):
        assert tables.COUNT_PREFIX.match(cell), cell
    for cell in ("2019-10", "BELLE train_0.5M_CN", "en", "1.1Mx"):
        assert not tables.COUNT_PREFIX.match(cell), cell
    monkeypatch.chdir(root / "book")
    html = tables.interactive(frame, "t").data
    assert '{"targets": [3], "type": "num"}' in html
    assert '"targets": [1, 2], "type": "num"}' in html  # after its "render" key
    assert "1e3" in html and "replace(/,/g" in html  # the renderer scales and ungroups
