"""The published site, checked as a reader's browser sees it (headless Chromium via Playwright).

Gates (GUIDE §6-7): every page renders with no console error, no failed or external request;
figures load; search finds a model; the catalog table sorts and filters; pages stay under 1 MB
with their figures; images have alt text, headings do not skip levels, the language is set;
two clean builds are byte-identical, one of them made with no network at all; CSV text cannot
inject script; chapters can be downloaded as notebooks; repository buttons point at the file.
Screenshots of the landing page and a chapter are kept in ``test-artifacts/``.
"""

from __future__ import annotations

import filecmp
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, copy_book, edit_cell, jb_build, seed_cache, toc_files

pytestmark = pytest.mark.build

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
#: GUIDE §6: a chapter page with its figures weighs under 1 MB.
PAGE_BUDGET_BYTES = 1_000_000
#: Pages whose content changes from build to build by design: the execution-status table
#: records when and how long each notebook ran.
#: Pages that publish what the build machine measured (run times, tokens per second): their HTML,
#: their notebook download, the figures only they show and their search-index entries may
#: differ between two clean builds. Everything else must be byte-identical.
MEASURED_PAGES = (
    "book/appendix/build-status",
    "book/part2-peft/lora",
    "book/part4-decoding/cost",
)


def find_or_install_chromium() -> str:
    """A Chromium-family browser: $LLMBOOK_CHROMIUM, one on the PATH (Debian's chromium, or the
    Google Chrome that GitHub's runners carry), or Debian's installed with apt-get when we are
    root; else a failure that says how to install it."""
    override = os.environ.get("LLMBOOK_CHROMIUM")
    if override:
        return override
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "chromium"],
        ):
            subprocess.run(command, check=True, capture_output=True, timeout=900)
        found = shutil.which("chromium")
        if found:
            return found
    pytest.fail(
        "headless Chromium is needed for the browser tests: install the Debian package "
        "('sudo apt-get install chromium') and run the tests again"
    )


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = find_or_install_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve(folder: Path):
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


@pytest.fixture(scope="session")
def base_url(site):
    server, url = serve(site / "_build" / "html")
    yield url
    server.shutdown()


class Visit:
    """One page load with everything a reader's browser would complain about."""

    def __init__(self, browser, base: str, path: str):
        self.page = browser.new_page(viewport={"width": 1280, "height": 1000})
        self.errors, self.failed, self.external, self.dialogs = [], [], [], []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url} {r.failure}"))
        self.page.on(
            "response",
            lambda r: self.failed.append(f"{r.url} {r.status}") if r.status >= 400 else None,
        )
        self.page.on(
            "request", lambda r: None if r.url.startswith(base) else self.external.append(r.url)
        )
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(f"{base}/{path}", wait_until="networkidle")

    def close(self):
        self.page.close()


def pages(book: Path) -> list[str]:
    return [f"{doc}.html" for doc in toc_files(book)]


def test_every_page_renders_cleanly(site, browser, base_url):
    for path in pages(site):
        visit = Visit(browser, base_url, path)
        broken = visit.page.evaluate(
            "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
        )
        visit.close()
        assert visit.errors == [], (path, visit.errors)
        assert visit.failed == [], (path, visit.failed)
        assert visit.external == [], (path, visit.external)
        assert broken == [], (path, broken)


def test_math_is_typeset_offline(site, browser, base_url):
    visit = Visit(browser, base_url, "book/appendix/formulas.html")
    visit.page.wait_for_selector("mjx-container", timeout=10_000)
    assert visit.page.locator("mjx-container").count() > 5
    visit.close()


def test_search_finds_a_model(site, browser, base_url):
    visit = Visit(browser, base_url, "search.html?q=Qwen2")
    visit.page.wait_for_selector("#search-results li", timeout=10_000)
    links = visit.page.eval_on_selector_all("#search-results li a", "as => as.map(a => a.href)")
    visit.close()
    assert any("landscape" in link for link in links), links


def column_values(page, table: str, column: int) -> list[str]:
    return page.eval_on_selector_all(
        f"#{table} tbody tr", f"rows => rows.map(r => r.cells[{column}].innerText.trim())"
    )


def test_catalog_table_sorts_and_filters(site, browser, base_url):
    visit = Visit(browser, base_url, "book/part1-base-models/landscape.html")
    page, table = visit.page, "table-base-models"
    page.wait_for_selector(f"#{table} tbody tr")
    headers = page.eval_on_selector_all(
        f"#{table} thead th", "hs => hs.map(h => h.innerText.trim())"
    )
    column = headers.index("params (B)")
    # The reader's control: the sort button in the visible header (DataTables may draw the
    # header twice when the table scrolls sideways; the copy inside the table is hidden).
    sort = page.locator(f"#{table}_wrapper th:visible", has_text="params (B)").first
    sort.locator(".dt-column-order").click()
    page.wait_for_selector(f"#{table}_wrapper th.dt-ordering-asc")
    ascending = [float(v) for v in column_values(page, table, column) if v]
    assert ascending == sorted(ascending) and len(ascending) > 3, ascending
    sort.locator(".dt-column-order").click()
    page.wait_for_selector(f"#{table}_wrapper th.dt-ordering-desc")
    descending = [float(v) for v in column_values(page, table, column) if v]
    assert descending == sorted(descending, reverse=True), descending
    page.locator(f"#{table}_wrapper input[type=search]").fill("Qwen")
    page.wait_for_timeout(300)
    names = column_values(page, table, headers.index("model"))
    assert names and all("Qwen" in name for name in names), names
    visit.close()


def test_screenshots_are_kept(site, browser, base_url):
    """The landing page and the landscape chapter's timeline, as a reader sees them. The README's
    screenshot (docs/screenshot-landscape.png) is a copy of the second."""
    ARTIFACTS.mkdir(exist_ok=True)
    for path, anchor, name in [
        ("book/intro.html", None, "landing.png"),
        ("book/part1-base-models/landscape.html", "#size-over-time", "chapter-landscape.png"),
    ]:
        visit = Visit(browser, base_url, path)
        if anchor:
            visit.page.locator(anchor).scroll_into_view_if_needed()
            visit.page.evaluate(f"document.querySelector('{anchor}').scrollIntoView()")
            visit.page.wait_for_timeout(300)
        visit.page.screenshot(path=str(ARTIFACTS / name))
        visit.close()
        assert (ARTIFACTS / name).stat().st_size > 20_000


def page_weights(html_root: Path, paths: list[str]) -> dict[str, int]:
    weights = {}
    for path in paths:
        page = html_root / path
        text = page.read_text(encoding="utf-8")
        images = {src for src in re.findall(r'<img[^>]+src="([^"]+)"', text)}
        weights[path] = page.stat().st_size + sum((page.parent / s).stat().st_size for s in images)
    return weights


def test_pages_weigh_under_1_mb_with_their_figures(site):
    weights = page_weights(site / "_build" / "html", pages(site))
    heaviest = sorted(weights.items(), key=lambda kv: -kv[1])[:3]
    print("heaviest pages:", ", ".join(f"{p} {w / 1e6:.2f} MB" for p, w in heaviest))
    assert all(w < PAGE_BUDGET_BYTES for w in weights.values()), heaviest


def test_accessibility_basics(site):
    html_root = site / "_build" / "html"
    for path in pages(site):
        text = (html_root / path).read_text(encoding="utf-8")
        assert re.search(r'<html[^>]+lang="en"', text), path
        for tag in re.findall(r"<img[^>]*>", text):
            alt = re.search(r'alt="([^"]*)"', tag)
            assert alt and alt.group(1).strip(), (path, tag[:120])
        article = text.split('<article class="bd-article">', 1)[-1].split("</article>", 1)[0]
        levels = [int(h) for h in re.findall(r"<h([1-6])[ >]", article)]
        assert levels and levels[0] == 1, path
        for previous, current in zip(levels, levels[1:], strict=False):
            assert current <= previous + 1, f"{path}: heading h{previous} then h{current}"


@pytest.fixture(scope="module")
def offline_copy(tmp_path_factory, site):
    """A second clean build of the same sources, made with no network (a new network namespace)."""
    book = copy_book(tmp_path_factory.mktemp("offline") / "book")
    shutil.rmtree(book / "_build", ignore_errors=True)
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode == 0:
        result = jb_build(
            book, prefix=("unshare", "-n", "sh", "-c", 'ip link set lo up; exec "$@"', "sh")
        )
        how = "network namespace"
    else:  # no unshare here: make every non-loopback connection fail inside Python instead
        guard = book / "_offline_guard"
        guard.mkdir()
        (guard / "sitecustomize.py").write_text(
            "import socket\n_connect = socket.socket.connect\n"
            "def connect(self, address):\n"
            "    host = address[0] if isinstance(address, tuple) else address\n"
            "    local = ('127.', '::1', 'localhost', '/')\n"
            "    if isinstance(host, str) and not host.startswith(local):\n"
            "        raise OSError('network disabled by the offline test')\n"
            "    return _connect(self, address)\n"
            "socket.socket.connect = connect\n"
        )
        result = jb_build(book, env={"PYTHONPATH": str(guard)})
        how = "socket guard"
    return book, result, how


def test_build_needs_no_network(offline_copy):
    _, result, how = offline_copy
    assert result.returncode == 0, (how, result.stdout[-2000:] + result.stderr[-2000:])


def test_two_clean_builds_are_byte_identical(site, offline_copy):
    book, result, _ = offline_copy
    assert result.returncode == 0
    first, second = site / "_build" / "html", book / "_build" / "html"
    differing = []

    def walk(comparison: filecmp.dircmp, prefix: str = "") -> None:
        differing.extend(prefix + name for name in comparison.left_only + comparison.right_only)
        _, mismatch, errors = filecmp.cmpfiles(
            comparison.left, comparison.right, comparison.common_files, shallow=False
        )
        differing.extend(prefix + name for name in mismatch + errors)
        for name, sub in comparison.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(first, second))
    allowed = {f"{page}{ext}" for page in MEASURED_PAGES for ext in (".html", ".ipynb")}
    allowed |= measured_only_images(first) | measured_only_images(second)
    if "searchindex.js" in differing and search_index_without_measured(
        first
    ) == search_index_without_measured(second):
        allowed.add("searchindex.js")
    unexpected = sorted(set(differing) - allowed)
    assert unexpected == [], unexpected


def measured_only_images(html: Path) -> set[str]:
    """Figures referenced by measured pages and by no other page of the site at ``html``."""

    def images(page: Path) -> set[str]:
        return {
            "_images/" + name
            for name in re.findall(r'_images/([^"\'?#]+)', page.read_text(encoding="utf-8"))
        }

    measured = {f"{p}.html" for p in MEASURED_PAGES}
    theirs, others = set(), set()
    for page in html.rglob("*.html"):
        rel = page.relative_to(html).as_posix()
        (theirs if rel in measured else others).update(images(page))
    return theirs - others


def search_index_without_measured(html: Path) -> dict:
    """The search index with the measured pages' words removed (their titles stay: those are
    written, not measured)."""
    text = (html / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(text[text.index("(") + 1 : text.rindex(")")])
    drop = {i for i, name in enumerate(index["docnames"]) if name in MEASURED_PAGES}
    for key in ("terms", "titleterms"):
        kept = {}
        for term, docs in index[key].items():
            docs = {docs} if isinstance(docs, int) else set(docs)
            if docs - drop:
                kept[term] = sorted(docs - drop)
        index[key] = kept
    return index


@pytest.fixture(scope="module")
def hostile_copy(tmp_path_factory, site):
    """A copy whose CSV holds markup, built with a known repository for the header buttons.

    It starts from the clean build's notebook cache: only the chapters reading the edited table
    re-execute."""
    book = copy_book(tmp_path_factory.mktemp("hostile") / "book")
    seed_cache(site, book)
    edit_cell(book / "data" / "models.csv", 2, "notes", "<script>alert(1)</script> <b>bold?</b>")
    result = jb_build(book, env={"LLMBOOK_REPOSITORY": "example-org/replicating-chatgpt"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return book


def test_catalog_text_is_escaped_never_executed(hostile_copy, browser):
    server, base = serve(hostile_copy / "_build" / "html")
    visit = Visit(browser, base, "book/part1-base-models/landscape.html")
    visit.page.locator("#table-base-models_wrapper input[type=search]").fill("alert")
    visit.page.wait_for_timeout(300)
    text = visit.page.inner_text("#table-base-models")
    injected = visit.page.locator("#table-base-models b").count()
    visit.close()
    server.shutdown()
    assert visit.dialogs == []
    assert "<script>alert(1)</script>" in text  # shown as text
    assert injected == 0  # the <b> was not parsed as markup either


def test_repository_and_edit_buttons_point_at_the_file(hostile_copy):
    page = hostile_copy / "_build" / "html" / "book" / "part1-base-models" / "landscape.html"
    text = page.read_text(encoding="utf-8")
    repo = "https://github.com/example-org/replicating-chatgpt"
    assert f'href="{repo}/edit/main/book/part1-base-models/landscape.md"' in text
    assert f'href="{repo}"' in text


def test_no_repository_buttons_without_a_known_repository(site):
    text = (site / "_build" / "html" / "book" / "intro.html").read_text(encoding="utf-8")
    assert "github.com/" not in text.split("<article", 1)[0]


def test_chapters_download_as_notebooks_with_outputs(site):
    html_root = site / "_build" / "html"
    page = html_root / "book" / "part1-base-models" / "landscape.html"
    assert 'href="landscape.ipynb" download' in page.read_text(encoding="utf-8")
    notebook = json.loads((page.parent / "landscape.ipynb").read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    assert any(cell.get("outputs") for cell in notebook["cells"] if cell["cell_type"] == "code")


def test_status_page_lists_each_executed_chapter(site):
    text = (site / "_build" / "html" / "book" / "appendix" / "build-status.html").read_text()
    for doc in ("landscape", "formulas", "errata", "data"):
        assert doc in text
    assert "Run Time" in text


def test_dependency_bot_never_proposes_jupyter_book_2():
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    pip = next(u for u in config["updates"] if u["package-ecosystem"] == "pip")
    rules = [r for r in pip.get("ignore", []) if r["dependency-name"] == "jupyter-book"]
    assert rules and ">=2" in rules[0]["versions"]


def test_every_errata_link_lands_on_a_claim_row(site):
    html_root = site / "_build" / "html"
    errata = (html_root / "book" / "appendix" / "errata.html").read_text(encoding="utf-8")
    rows = set(re.findall(r'<tr id="(claim-C\d+)"', errata))
    links = {
        (page.relative_to(html_root).as_posix(), anchor)
        for page in html_root.rglob("*.html")
        for anchor in re.findall(r"errata\.html#(claim-C\d+)", page.read_text(encoding="utf-8"))
    }
    assert links, "no chapter links to the errata yet"
    assert sorted(a for _, a in links if a not in rows) == []


# --- Issue 20 "Guard it": tables finished for readers -------------------------------------------


@pytest.fixture(scope="module")
def bib_keys(site) -> set[str]:
    import pybtex.database

    return set(pybtex.database.parse_file(str(site / "book" / "references.bib")).entries)


@pytest.fixture(scope="module")
def data_descriptions(site) -> list[str]:
    package = json.loads((site / "data" / "datapackage.json").read_text(encoding="utf-8"))
    return [
        field["description"]
        for resource in package["resources"]
        for field in resource["schema"]["fields"]
        if field.get("description")
    ]


def test_no_unfinished_table_cells(site, bib_keys):
    """No raw float count (4700000.0), no <NA>/NaN/None, no bare bibliography key in a cell."""
    from llmbook.tables import unfinished_cells

    html_root = site / "_build" / "html"
    found = {}
    for path in pages(site):
        cells = unfinished_cells((html_root / path).read_text(encoding="utf-8"), bib_keys)
        if cells:
            found[path] = sorted(set(cells))[:10]
    assert found == {}, found


def test_data_appendix_shows_every_description_whole(site, data_descriptions):
    from llmbook.tables import cut_descriptions

    page = site / "_build" / "html" / "book" / "appendix" / "data.html"
    cut = cut_descriptions(page.read_text(encoding="utf-8"), data_descriptions)
    assert cut == [], f"{len(cut)} descriptions not shown whole, e.g. {cut[:3]}"


def test_tables_fit_the_content_column_at_1280px(site, browser, base_url):
    from llmbook.tables import WIDE_TABLES_JS

    wide = {}
    for path in pages(site):
        visit = Visit(browser, base_url, path)
        tables_too_wide = visit.page.evaluate(WIDE_TABLES_JS)
        visit.close()
        if tables_too_wide:
            wide[path] = tables_too_wide
    assert wide == {}, wide
