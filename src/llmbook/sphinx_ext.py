"""The book's Sphinx extension: validate the data first, and re-execute what read changed files.

Listed in ``_config.yml`` under ``sphinx.extra_extensions``. It does three things:

1. **Validate before executing.** When the build starts, the data package is validated
   (:func:`llmbook.catalog.validate`); a problem stops the build, before any notebook runs,
   with a message naming file, row and column. A successful validation is remembered by the
   hash of ``data/`` so a no-change rebuild does not pay for it again.
2. **Data-aware execution cache.** jupyter-cache keys an executed notebook on its code cells
   only, so editing a CSV or the library would leave stale outputs. While a notebook executes,
   ``LLMBOOK_INPUTS_LOG`` points the kernel's library at a log (:mod:`llmbook.inputs`) where it
   records every file it reads. After the notebook is read, the sha256 of each of those files
   is stored with the notebook's cache record. On the next build, a notebook whose inputs
   changed (by content, not modification time, so a fresh clone with a restored cache stays
   warm) has its cache record removed and is marked outdated, so it re-executes; notebooks
   that did not read the changed file keep their outputs.
3. **Offline tables.** The itables bundle is copied into the site's ``_static`` folder
   (see :mod:`llmbook.tables`).
4. **Notebooks to download.** Each executed chapter is published next to its page as an
   ``.ipynb`` with its outputs (Colab and Jupyter open it; they cannot open MyST markdown),
   with a link at the top of the page.
5. **Repository buttons.** When the repository is known (``LLMBOOK_REPOSITORY`` or, in GitHub
   Actions, ``GITHUB_REPOSITORY``, as ``owner/name``), the theme's repository, issues and
   edit-this-page buttons point at it; without it no button points at a guessed address.

The state lives next to jupyter-cache's database (``_build/.jupyter_cache/llmbook-inputs.json``),
so whatever keeps or restores that cache keeps the two consistent.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

from llmbook import catalog, inputs, tables

LOGGER = logging.getLogger(__name__)
STATE_FILE = "llmbook-inputs.json"
LOG_DIR = "llmbook-logs"
STATE_VERSION = 1


def file_sha256(path: Path) -> str | None:
    """sha256 of a file's bytes, or None if it does not exist."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (FileNotFoundError, IsADirectoryError):
        return None


def folder_sha256(folder: Path) -> str:
    """One hash over the names and contents of the files directly inside ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def changed_inputs(
    recorded: dict[str, str], root: Path, hashes: dict[Path, str | None] | None = None
) -> list[str]:
    """The recorded inputs (paths relative to ``root`` or absolute) whose content changed.

    ``hashes`` memoises file hashes across calls: every notebook records the whole library, so
    a build checks the same few dozen files for each of its notebooks."""
    hashes = {} if hashes is None else hashes
    changed = []
    for rel, sha in recorded.items():
        path = root / rel
        if path not in hashes:
            hashes[path] = file_sha256(path)
        if hashes[path] != sha:
            changed.append(rel)
    return changed


class _State:
    """Per-build state: which files each notebook read, and the last validated data."""

    def __init__(self, app: Sphinx):
        self.root = Path(app.srcdir).resolve()
        self.cache_dir = Path(app.env.mystnb_config.execution_cache_path).resolve()
        self.path = self.cache_dir / STATE_FILE
        self.log_dir = self.cache_dir / LOG_DIR
        self.stale: set[str] = set()
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            saved = {}
        if saved.get("version") != STATE_VERSION:
            saved = {}
        self.validated_data: str | None = saved.get("validated_data")
        self.docs: dict[str, dict] = saved.get("docs", {})

    def save(self) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        payload = {
            "version": STATE_VERSION,
            "validated_data": self.validated_data,
            "docs": self.docs,
        }
        self.path.write_text(json.dumps(payload, indent=1, sort_keys=True), encoding="utf-8")

    def log_file(self, docname: str) -> Path:
        return self.log_dir / (docname.replace("/", "__") + ".log")

    def relative(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path.resolve())


def _state(app: Sphinx) -> _State:
    return app.llmbook_state  # type: ignore[attr-defined]


def validate_data(app: Sphinx, state: _State) -> None:
    """Validate data/ unless this exact content was validated before; stop the build if bad."""
    data = state.root / "data"
    if not (data / "datapackage.json").is_file():
        raise ExtensionError(f"{data}/datapackage.json is missing: the book needs its data package")
    digest = folder_sha256(data)
    if digest == state.validated_data:
        return
    try:
        catalog.validate(data)
    except catalog.DataError as error:
        raise ExtensionError(str(error)) from None
    state.validated_data = digest
    LOGGER.info("llmbook: data package valid")


def invalidate_changed(state: _State) -> None:
    """Drop the cache records of notebooks whose recorded inputs changed; mark them stale."""
    from jupyter_cache import get_cache

    cache = None
    hashes: dict[Path, str | None] = {}
    for docname, record in sorted(state.docs.items()):
        changed = changed_inputs(record.get("inputs", {}), state.root, hashes)
        if not changed:
            continue
        LOGGER.info(f"llmbook: {docname} re-executes: {', '.join(changed[:3])} changed")
        if cache is None:
            cache = get_cache(str(state.cache_dir))
        for cached in cache.list_cache_records():
            if cached.hashkey == record.get("hashkey") or cached.uri == record.get("uri"):
                cache.remove_cache(cached.pk)
        state.stale.add(docname)
        del state.docs[docname]


def on_builder_inited(app: Sphinx) -> None:
    state = _State(app)
    app.llmbook_state = state  # type: ignore[attr-defined]
    validate_data(app, state)
    invalidate_changed(state)
    state.save()


def on_env_get_outdated(app, env, added, changed, removed) -> list[str]:
    return sorted(_state(app).stale)


def on_source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    """Point the kernel that may execute this document at a fresh inputs log."""
    log = _state(app).log_file(docname)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    os.environ[inputs.ENV_VAR] = str(log)


def on_doctree_read(app: Sphinx, doctree) -> None:
    """If the document was executed now, store the hashes of the files its kernel read."""
    state = _state(app)
    docname = app.env.docname
    log = state.log_file(docname)
    os.environ.pop(inputs.ENV_VAR, None)
    read = inputs.read_log(log)
    if not read:
        return  # not executed in this build (cached, or not a notebook): keep what we knew
    log.unlink(missing_ok=True)
    uri = str(Path(app.env.doc2path(docname)).resolve())
    record = {
        "uri": uri,
        "hashkey": _cache_hashkey(state, uri),
        "inputs": {state.relative(p): file_sha256(p) for p in read},
    }
    state.docs[docname] = record


def _cache_hashkey(state: _State, uri: str) -> str | None:
    from jupyter_cache import get_cache

    cache = get_cache(str(state.cache_dir))
    records = [r for r in cache.list_cache_records() if r.uri == uri]
    return max(records, key=lambda r: r.created).hashkey if records else None


def executed_notebook(app: Sphinx, docname: str) -> Path | None:
    """The executed ``.ipynb`` myst-nb wrote for ``docname``, if it is a notebook."""
    folder = Path(app.env.mystnb_config.output_folder)
    path = folder / f"{docname}.ipynb"
    return path if path.is_file() else None


DOWNLOAD_LINK = (
    '<p class="llmbook-download"><a href="{name}" download>'
    "Download this chapter as a Jupyter notebook (.ipynb, with its outputs)</a></p>\n"
)


def on_html_page_context(app: Sphinx, pagename: str, templatename: str, context, doctree) -> None:
    """Link each executed chapter's notebook at the top of its page; drop duplicate scripts.

    sphinx-thebe (bundled by Jupyter Book) registers its inline configuration script once per
    reading pass, so a page can carry ``const THEBE_JS_URL = ...`` twice, which the browser
    reports as an error ("Identifier 'THEBE_JS_URL' has already been declared").
    """
    scripts = context.get("script_files")
    if scripts:
        seen, unique = set(), []
        for script in scripts:
            name = getattr(script, "filename", str(script)) or ""  # None and "" alike
            key = (str(name), tuple(sorted(getattr(script, "attributes", {}).items())))
            if key not in seen:
                seen.add(key)
                unique.append(script)
        context["script_files"] = unique
    if doctree is not None and executed_notebook(app, pagename) and "body" in context:
        context["body"] = (
            DOWNLOAD_LINK.format(name=Path(pagename).name + ".ipynb") + context["body"]
        )


#: Cell metadata that records when a cell ran: dropped so two builds publish identical files.
VOLATILE_CELL_METADATA = ("execution",)


def publish_notebooks(app: Sphinx) -> None:
    """Write each executed chapter next to its page, without run timestamps."""
    import nbformat

    for docname in sorted(app.env.found_docs):
        source = executed_notebook(app, docname)
        if not source:
            continue
        notebook = nbformat.read(source, as_version=4)
        for number, cell in enumerate(notebook.cells):
            cell.id = f"cell-{number}"  # jupytext draws random ids on every read
            for key in VOLATILE_CELL_METADATA:
                cell.metadata.pop(key, None)
        target = Path(app.outdir) / f"{docname}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(nbformat.writes(notebook), encoding="utf-8")


def on_config_inited(app: Sphinx, config) -> None:
    """Point the theme's repository buttons at the repository, when it is known."""
    repo = os.environ.get("LLMBOOK_REPOSITORY") or os.environ.get("GITHUB_REPOSITORY")
    if not repo:
        return
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise ExtensionError(f"LLMBOOK_REPOSITORY must be 'owner/name', got {repo!r}")
    options = dict(config.html_theme_options or {})
    options.update(
        repository_url=f"https://github.com/{repo}",
        repository_branch=os.environ.get("LLMBOOK_BRANCH", "main"),
        path_to_docs="",
        use_repository_button=True,
        use_issues_button=True,
        use_edit_page_button=True,
    )
    config.html_theme_options = options


def on_build_finished(app: Sphinx, exception) -> None:
    state = _state(app)
    state.save()
    if exception is None and app.builder.format == "html":
        static = Path(app.outdir) / tables.STATIC_DIR
        static.mkdir(parents=True, exist_ok=True)
        for asset in tables.itables_asset_paths():
            shutil.copyfile(asset, static / asset.name)
        publish_notebooks(app)


def setup(app: Sphinx) -> dict:
    # After myst-nb's own builder-inited handler, which resolves the execution cache path.
    app.connect("builder-inited", on_builder_inited, priority=900)
    app.connect("env-get-outdated", on_env_get_outdated)
    app.connect("source-read", on_source_read)
    app.connect("doctree-read", on_doctree_read)
    app.connect("build-finished", on_build_finished)
    # Late, after the themes and sphinx-thebe have added their page scripts.
    app.connect("html-page-context", on_html_page_context, priority=900)
    app.connect("config-inited", on_config_inited)
    return {"version": "0.1", "parallel_read_safe": False, "parallel_write_safe": True}
