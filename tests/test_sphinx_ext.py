"""llmbook.sphinx_ext helpers: content hashing decides what re-executes."""

from __future__ import annotations

import pytest

from llmbook import catalog, sphinx_ext


def test_changed_inputs_compares_content_not_mtime(tmp_path):
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "b.csv").write_text("x\n2\n")
    record = {
        "a.csv": sphinx_ext.file_sha256(tmp_path / "a.csv"),
        "b.csv": sphinx_ext.file_sha256(tmp_path / "b.csv"),
    }
    (tmp_path / "a.csv").write_text("x\n1\n")  # rewritten, same content
    (tmp_path / "b.csv").write_text("x\n3\n")
    assert sphinx_ext.changed_inputs(record, tmp_path) == ["b.csv"]


def test_a_deleted_input_counts_as_changed(tmp_path):
    (tmp_path / "a.csv").write_text("x\n")
    record = {"a.csv": sphinx_ext.file_sha256(tmp_path / "a.csv")}
    (tmp_path / "a.csv").unlink()
    assert sphinx_ext.changed_inputs(record, tmp_path) == ["a.csv"]


def test_folder_hash_changes_with_any_file(tmp_path):
    (tmp_path / "a.csv").write_text("1")
    before = catalog.package_digest(tmp_path)
    (tmp_path / "a.csv").write_text("2")
    assert catalog.package_digest(tmp_path) != before


# -- crash-safe, fail-closed state ----------------------------------------------------------------


def fake_app(root):
    from types import SimpleNamespace

    config = SimpleNamespace(execution_cache_path=str(root / "_build" / ".jupyter_cache"))
    return SimpleNamespace(srcdir=str(root), env=SimpleNamespace(mystnb_config=config))


def cached_notebook(cache, uri: str, code: str):
    import nbformat
    from jupyter_cache.base import CacheBundleIn

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(code)]
    return cache.cache_notebook_bundle(CacheBundleIn(nb, uri), check_validity=False)


def test_stale_documents_survive_a_save_and_reload(tmp_path):
    state = sphinx_ext._State(fake_app(tmp_path))
    assert state.problem and "missing" in state.problem
    state.stale.add("book/a")
    state.docs["book/b"] = {"uri": "b", "hashkey": "h", "inputs": {}}
    state.save()
    again = sphinx_ext._State(fake_app(tmp_path))
    assert again.problem is None
    assert again.stale == {"book/a"} and set(again.docs) == {"book/b"}


def test_an_unreadable_state_file_is_a_problem_not_an_empty_state(tmp_path):
    state = sphinx_ext._State(fake_app(tmp_path))
    state.save()
    state.path.write_text("{half a json", encoding="utf-8")
    assert "unreadable" in sphinx_ext._State(fake_app(tmp_path)).problem


def test_a_missing_state_file_with_cached_notebooks_uncaches_them_all(tmp_path):
    state = sphinx_ext._State(fake_app(tmp_path))
    cache = sphinx_ext.open_cache(state)
    cached_notebook(cache, str(tmp_path / "a.md"), "1 + 1")
    cached_notebook(cache, str(tmp_path / "b.md"), "2 + 2")
    assert len(cache.list_cache_records()) == 2
    sphinx_ext.invalidate_changed(state, cache)  # no state file: fail closed
    assert cache.list_cache_records() == []


def test_a_changed_input_is_marked_stale_on_disk_before_its_cache_goes(tmp_path):
    (tmp_path / "data.csv").write_text("x\n1\n")
    state = sphinx_ext._State(fake_app(tmp_path))
    cache = sphinx_ext.open_cache(state)
    record = cached_notebook(cache, str(tmp_path / "a.md"), "1 + 1")
    state.record("book/a", str(tmp_path / "a.md"), record.hashkey, [tmp_path / "data.csv"])
    state.save()
    state = sphinx_ext._State(fake_app(tmp_path))
    (tmp_path / "data.csv").write_text("x\n2\n")
    sphinx_ext.invalidate_changed(state, cache)
    assert cache.list_cache_records() == []
    saved = sphinx_ext._State(fake_app(tmp_path))
    assert saved.stale == {"book/a"} and "book/a" not in saved.docs


def test_an_unreadable_cached_notebook_is_uncached(tmp_path):
    state = sphinx_ext._State(fake_app(tmp_path))
    cache = sphinx_ext.open_cache(state)
    record = cached_notebook(cache, str(tmp_path / "a.md"), "1 + 1")
    state.record("book/a", str(tmp_path / "a.md"), record.hashkey, [])
    state.save()
    cache._get_notebook_path_cache(record.hashkey).write_text("garbage", encoding="utf-8")
    state = sphinx_ext._State(fake_app(tmp_path))
    sphinx_ext.invalidate_changed(state, cache)
    assert cache.list_cache_records() == [] and state.stale == {"book/a"}


def test_a_corrupted_cache_database_is_deleted_and_rebuilt(tmp_path):
    state = sphinx_ext._State(fake_app(tmp_path))
    cache = sphinx_ext.open_cache(state)
    cached_notebook(cache, str(tmp_path / "a.md"), "1 + 1")
    state.save()
    (state.cache_dir / "global.db").write_bytes(b"this is not a sqlite database" * 100)
    state = sphinx_ext._State(fake_app(tmp_path))
    cache = sphinx_ext.open_cache(state)
    assert cache.list_cache_records() == []
    assert state.docs == {}


def test_the_latex_cache_returns_what_pybtex_parses_and_survives_a_damaged_file(tmp_path):
    from pybtex import richtext

    from llmbook.sphinx_ext import LatexCache

    original = richtext.Text.__dict__["from_latex"]
    try:
        latex = r"{Qwen2.5}: Cand{\`e}s and {LLaMA}"
        expected = richtext.Text.from_latex(latex)
        first = LatexCache(tmp_path)
        first.install()
        got = richtext.Text.from_latex(latex)
        assert got == expected and first.added
        got.parts.clear()  # a caller mutating its copy does not reach the memo
        assert richtext.Text.from_latex(latex) == expected
        first.save()
        second = LatexCache(tmp_path)  # a later build reads the memo back
        assert second.memo.keys() == {latex}
        second.install()
        assert richtext.Text.from_latex(latex) == expected and not second.added
        (tmp_path / LatexCache.FILE).write_bytes(b"not a pickle")
        assert LatexCache(tmp_path).memo == {}
    finally:
        richtext.Text.from_latex = original


def test_the_entry_cache_formats_as_pybtex_does_and_sees_every_edit(tmp_path):
    import pybtex.plugin
    from pybtex.database import Entry, Person
    from pybtex.richtext import Text
    from pybtex.style.formatting import BaseStyle

    from llmbook.sphinx_ext import LatexCache

    originals = Text.__dict__["from_latex"], BaseStyle.__dict__["format_entry"]
    style = pybtex.plugin.find_plugin("pybtex.style.formatting", "plain")()

    def entry(title):
        e = Entry("article", fields={"title": title, "journal": "J", "year": "2024"})
        e.persons["author"] = [Person("Smith, Jane")]
        return e

    def render(formatted):
        return formatted.text.render_as("text")

    try:
        plain = render(style.format_entry("S24", entry("A {LLaMA} study")))
        cache = LatexCache(tmp_path)
        cache.install()
        assert render(style.format_entry("S24", entry("A {LLaMA} study"))) == plain
        assert cache.added and len(cache.entries) == 1
        edited = render(style.format_entry("S24", entry("Another study")))
        assert edited != plain and len(cache.entries) == 2  # an edited field is a new key
        renamed = entry("A {LLaMA} study")
        renamed.persons["author"] = [Person("Doe, John")]
        assert "Doe" in render(style.format_entry("S24", renamed))
        cache.save()
        again = LatexCache(tmp_path)  # the next build reads the formatted entries back
        again.install()
        assert render(style.format_entry("S24", entry("A {LLaMA} study"))) == plain
        assert not again.added
    finally:
        Text.from_latex, BaseStyle.format_entry = originals


def test_pybtex_plugin_lookups_are_scanned_once_and_find_the_same_plugins(tmp_path):
    import pybtex.plugin
    from pybtex.richtext import Text
    from pybtex.style.formatting import BaseStyle

    from llmbook.sphinx_ext import LatexCache

    originals = Text.__dict__["from_latex"], BaseStyle.__dict__["format_entry"]
    scan = pybtex.plugin.entry_points
    groups = [("pybtex.style.formatting", "plain"), ("pybtex.style.names", "lastfirst")]
    expected = [pybtex.plugin.find_plugin(group, name) for group, name in groups]
    scans = []

    def counting_scan(**selection):
        scans.append(selection)
        return scan(**selection)

    try:
        pybtex.plugin.entry_points = counting_scan
        LatexCache(tmp_path).install()
        for _ in range(3):
            assert [pybtex.plugin.find_plugin(g, n) for g, n in groups] == expected
        assert len(scans) == len(groups)  # one scan per lookup, not one per citation
        LatexCache(tmp_path).install()  # a second install wraps the scan, not the wrapper
        assert pybtex.plugin.entry_points._llmbook_original is counting_scan
    finally:
        pybtex.plugin.entry_points = scan
        Text.from_latex, BaseStyle.format_entry = originals


def test_the_extension_loads_without_pandas():
    """A no-change rebuild must stay cheap: loading the extension imports neither pandas nor the
    data validator (they load only when data/ changed or a notebook runs)."""
    import subprocess
    import sys

    code = "import sys, llmbook.sphinx_ext; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_published_notebook_has_the_current_prose_and_the_recorded_outputs():
    """A prose edit does not re-execute a chapter; its downloadable notebook must still show the
    edited prose (it used to show the prose of the last execution), with the recorded outputs."""
    import nbformat

    from llmbook.sphinx_ext import with_outputs

    v4 = nbformat.v4
    ran = v4.new_notebook(cells=[v4.new_markdown_cell("Old prose."), v4.new_code_cell("1 + 1")])
    ran.cells[1].outputs = [v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)]
    ran.cells[1].execution_count = 1
    ran.cells[1].metadata["execution"] = {"iopub.execute_input": "2026-12-05T00:00:00"}
    now = v4.new_notebook(cells=[v4.new_markdown_cell("New prose."), v4.new_code_cell("1 + 1")])
    published = with_outputs(now, ran)
    assert published.cells[0].source == "New prose."
    assert published.cells[1].outputs[0]["data"]["text/plain"] == "2"
    assert [c.id for c in published.cells] == ["cell-0", "cell-1"]
    assert "execution" not in published.cells[1].metadata
    other = v4.new_notebook(cells=[v4.new_code_cell("1 + 2")])
    with pytest.raises(ValueError, match="code cells differ"):
        with_outputs(other, ran)
