"""The book's Sphinx extension: validate the data first, and re-execute what read changed files.

Listed in ``_config.yml`` under ``sphinx.extra_extensions``. It does six things:

1. **Validate before executing.** When the build starts, the data package is validated
   (:func:`llmbook.catalog.validate`); a problem stops the build, before any notebook runs,
   with a message naming file, row and column. A successful validation is remembered by the
   hash of ``data/`` so a no-change rebuild does not pay for it again.
2. **Data-aware execution cache.** jupyter-cache keys an executed notebook on its code cells
   only, so editing a CSV or the library would leave stale outputs. While a notebook executes,
   ``LLMBOOK_INPUTS_LOG`` points the kernel's library at a log (:mod:`llmbook.inputs`) where it
   records every file it reads and, after the last cell, the ``llmbook`` modules it imported.
   The sha256 of each of those files is stored with the notebook's cache record. On the next
   build, a notebook whose inputs changed (by content, not modification time, so a fresh clone
   with a restored cache stays warm) is marked stale and its cache record removed; notebooks
   that did not read the changed file keep their outputs. Invalidation is crash-safe and fails
   closed (see :class:`_State`).
3. **Parallel execution.** Before Sphinx reads anything, every notebook without a trusted cache
   record is executed by :mod:`llmbook.execution`, one kernel per worker process
   (``llmbook_execution_workers`` in ``_config.yml``: ``auto`` uses the usable cores), and stored
   in jupyter-cache as myst-nb stores it; myst-nb then only renders. A failing notebook fails the
   build with its cell's traceback, after the others have run, before any page is written.
4. **Offline tables.** The itables bundle is copied into the site's ``_static`` folder
   (see :mod:`llmbook.tables`).
5. **Notebooks to download.** Each executed chapter is published next to its page as an
   ``.ipynb`` with its outputs (Colab and Jupyter open it; they cannot open MyST markdown),
   with a link at the top of the page.
7. **Bibliography formatting cache.** sphinxcontrib-bibtex formats every entry again on every
   build, and half of a no-change rebuild went into pybtex decoding the same LaTeX strings.
   :class:`LatexCache` memoises ``pybtex.richtext.Text.from_latex`` (a pure function of its
   string) in ``_build/.doctrees``, keyed by pybtex's version; a damaged file is ignored.
6. **Repository buttons.** When the repository is known (``LLMBOOK_REPOSITORY`` or, in GitHub
   Actions, ``GITHUB_REPOSITORY``, as ``owner/name``), the theme's repository, issues and
   edit-this-page buttons point at it; without it no button points at a guessed address.

The state lives next to jupyter-cache's database (``_build/.jupyter_cache/llmbook-inputs.json``),
so whatever keeps or restores that cache keeps the two consistent.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path, PurePosixPath

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

from llmbook import inputs, paths

LOGGER = logging.getLogger(__name__)
STATE_FILE = "llmbook-inputs.json"
LOG_DIR = "llmbook-logs"
STATE_VERSION = 2


def file_sha256(path: Path) -> str | None:
    """sha256 of a file's bytes (:func:`llmbook.assets.file_sha256`), or None if it does not
    exist."""
    from llmbook import assets

    try:
        return assets.file_sha256(path)
    except (FileNotFoundError, IsADirectoryError):
        return None


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
    """Per-build state: which files each notebook read, which documents are stale, and the
    last validated data.

    Crash safety: a document whose notebook must be re-executed is recorded as *stale* and the
    state saved **before** its cache record is dropped; it stays stale until Sphinx has read it
    again after its re-execution was stored. So a build interrupted at any point (Ctrl-C, kill)
    leaves a state from which the next build re-executes and re-reads what is needed, never a
    page that keeps an old output. A state file that is missing or unreadable while notebooks
    are cached fails closed: every notebook re-executes.
    """

    def __init__(self, app: Sphinx):
        self.root = Path(app.srcdir).resolve()
        self.cache_dir = Path(app.env.mystnb_config.execution_cache_path).resolve()
        self.path = self.cache_dir / STATE_FILE
        self.log_dir = self.cache_dir / LOG_DIR
        self.problem: str | None = None
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(saved, dict) or saved.get("version") != STATE_VERSION:
                raise ValueError("an older or unknown format")
        except FileNotFoundError:
            saved, self.problem = {}, f"{self.path} is missing"
        except (OSError, ValueError) as error:  # JSONDecodeError is a ValueError
            saved, self.problem = {}, f"{self.path} is unreadable ({error})"
        self.validated_data: str | None = saved.get("validated_data")
        self.docs: dict[str, dict] = saved.get("docs", {})
        self.stale: set[str] = set(saved.get("stale", []))
        self.durations: dict[str, float] = saved.get("durations", {})

    def save(self) -> None:
        """Write the state atomically (a crash leaves the old file or the new, never half)."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        payload = {
            "version": STATE_VERSION,
            "validated_data": self.validated_data,
            "docs": self.docs,
            "stale": sorted(self.stale),
            "durations": self.durations,
        }
        paths.write_atomically(self.path, json.dumps(payload, indent=1, sort_keys=True))

    def log_file(self, docname: str) -> Path:
        return self.log_dir / (docname.replace("/", "__") + ".log")

    def relative(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path.resolve())

    def record(self, docname: str, uri: str, hashkey: str | None, read: list[Path], **extra):
        self.docs[docname] = {
            "uri": uri,
            "hashkey": hashkey,
            "inputs": {self.relative(p): file_sha256(p) for p in read},
            **extra,
        }


def _state(app: Sphinx) -> _State:
    return app.llmbook_state  # type: ignore[attr-defined]


def validate_data(app: Sphinx, state: _State) -> None:
    """Validate data/ unless this exact content was validated before; stop the build if bad."""
    data = state.root / "data"
    if not (data / "datapackage.json").is_file():
        raise ExtensionError(f"{data}/datapackage.json is missing: the book needs its data package")
    digest = paths.package_digest(data)
    if digest == state.validated_data:
        return
    from llmbook import catalog  # pandas and the validator, only when data/ changed

    try:
        catalog.validate_once(data)  # a clean clone of content this machine validated: skipped
    except catalog.DataError as error:
        raise ExtensionError(str(error)) from None
    state.validated_data = digest
    LOGGER.info("llmbook: data package valid")


CORRUPT_CACHE = (
    "llmbook: the notebook cache {path} is corrupted ({error}); it was deleted and every "
    "notebook re-executes"
)


def open_cache(state: _State):
    """jupyter-cache's cache, rebuilt from scratch if its database cannot be read."""
    from jupyter_cache import get_cache

    try:
        cache = get_cache(str(state.cache_dir))
        cache.list_cache_records()
        return cache
    except Exception as error:  # sqlite/sqlalchemy errors of a damaged database
        LOGGER.info(CORRUPT_CACHE.format(path=state.cache_dir, error=type(error).__name__))
        shutil.rmtree(state.cache_dir, ignore_errors=True)
        state.docs.clear()
        state.problem = None  # said once: the rebuild re-executes everything anyway
        cache = get_cache(str(state.cache_dir))
        cache.list_cache_records()
        return cache


def _readable(cache, hashkey: str) -> bool:
    """Whether the cached notebook file of ``hashkey`` exists and parses as JSON."""
    try:
        path = cache._get_notebook_path_cache(hashkey)
        json.loads(Path(path).read_text(encoding="utf-8"))
        return True
    except (OSError, ValueError):
        return False


def invalidate_changed(state: _State, cache) -> None:
    """Mark stale, then uncache, the notebooks whose recorded inputs changed (see :class:`_State`).

    With no readable state file, no cached notebook can be trusted: all are uncached."""
    records = cache.list_cache_records()
    if state.problem and records:
        LOGGER.info(f"llmbook: {state.problem}: every notebook re-executes")
        state.stale.update(state.docs)
        state.docs.clear()
        state.save()
        for cached in records:
            cache.remove_cache(cached.pk)
        return
    hashes: dict[Path, str | None] = {}
    dropped = []
    for docname, record in sorted(state.docs.items()):
        changed = changed_inputs(record.get("inputs", {}), state.root, hashes)
        if changed:
            LOGGER.info(f"llmbook: {docname} re-executes: {', '.join(changed[:3])} changed")
        elif _readable(cache, record.get("hashkey") or ""):
            continue
        else:
            LOGGER.info(f"llmbook: {docname} re-executes: its cached notebook is unreadable")
        dropped.append((docname, record))
    if not dropped:
        return
    for docname, _ in dropped:
        state.stale.add(docname)
        del state.docs[docname]
    state.save()  # stale is on disk before any cache record goes
    for _, record in dropped:
        for cached in records:
            if cached.hashkey == record.get("hashkey") or cached.uri == record.get("uri"):
                cache.remove_cache(cached.pk)


def notebook_documents(app: Sphinx, state: _State, cached_keys: set[str]):
    """(docname, path, notebook, reader, source sha256) for every document myst-nb would
    execute, except those whose source, cache record and inputs are known unchanged (no need
    to parse them: a no-change rebuild stays fast)."""
    from myst_nb.core.read import create_nb_reader

    env, nb_config = app.env, app.env.mystnb_config
    if nb_config.execution_mode != "cache":
        return
    env.find_files(app.config, app.builder)
    for docname in sorted(env.found_docs):
        path = Path(env.doc2path(docname))
        if path.suffix not in (".md", ".ipynb"):
            continue
        posix = PurePosixPath(path.as_posix())
        if any(posix.match(p) for p in nb_config.execution_excludepatterns):
            continue
        raw = path.read_bytes()
        source = hashlib.sha256(raw).hexdigest()
        known = state.docs.get(docname, {})
        if known.get("source") == source and known.get("hashkey") in cached_keys:
            continue
        text = raw.decode("utf-8")
        reader = create_nb_reader(str(path), env.myst_config, nb_config, text)
        if reader is None:
            continue
        notebook = reader.read(text)
        mode = notebook.metadata.get(nb_config.metadata_key, {}).get("execution_mode")
        if mode not in (None, "cache"):
            continue
        yield docname, path, notebook, reader, source


def execute_pending(app: Sphinx, state: _State, cache) -> None:
    """Execute, in parallel, every notebook that has no trusted cache record; cache each as
    myst-nb would, record its inputs, and fail the build (after all ran) if any failed."""
    import nbformat
    from jupyter_cache.base import CacheBundleIn

    from llmbook import execution

    nb_config = app.env.mystnb_config
    cached = {r.hashkey: r for r in cache.list_cache_records()}
    jobs, sources = [], {}
    for docname, path, notebook, reader, source in notebook_documents(app, state, set(cached)):
        try:
            record = cache.match_cache_notebook(notebook)
        except KeyError:
            record = None
        known = state.docs.get(docname, {})
        if record is not None and known.get("hashkey") == record.hashkey:
            known["source"] = source  # a prose edit: same code, same outputs
            continue  # cached, with known inputs that did not change
        if record is not None and record.hashkey in cached:
            cache.remove_cache(record.pk)  # cached, but with unknown inputs: fail closed
        log = state.log_file(docname)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.unlink(missing_ok=True)
        sources[docname] = (path, reader, source)
        jobs.append(
            execution.Job(
                docname=docname,
                notebook_json=nbformat.writes(notebook),
                cwd=str(path.parent),
                timeout=nb_config.execution_timeout,
                allow_errors=nb_config.execution_allow_errors,
                log=str(log),
                validated_data=state.validated_data,
            )
        )
    if not jobs:
        return
    for job in jobs:  # stale before anything runs: see _State
        state.stale.add(job.docname)
        state.docs.pop(job.docname, None)
    state.save()
    # Longest first: times of the last execution here, else on this machine, else source size.
    jobs = execution.longest_first(
        jobs, state.durations, execution.machine_durations(), size=lambda j: len(j.notebook_json)
    )
    n = execution.workers(app.config.llmbook_execution_workers, len(jobs))
    LOGGER.info(f"llmbook: executing {len(jobs)} notebooks on {n} worker(s)")
    failures = []

    def started(job, number):
        path = sources[job.docname][0]
        LOGGER.info(f"{path}: Executing notebook ({number}/{len(jobs)})")

    def done(outcome):
        path, reader, source = sources[outcome.docname]
        log = state.log_file(outcome.docname)
        if outcome.error:
            failures.append((path, outcome.error))
            LOGGER.info(f"{path}: Executing notebook failed")
            log.unlink(missing_ok=True)
            return
        executed = nbformat.reads(outcome.notebook_json, as_version=4)
        uri = str(path.resolve())
        cache.add_nb_to_project(uri, read_data=reader.read_fmt)
        record = cache.cache_notebook_bundle(
            CacheBundleIn(executed, uri, data={"execution_seconds": outcome.seconds}),
            check_validity=False,
            overwrite=True,
        )
        state.record(outcome.docname, uri, record.hashkey, inputs.read_log(log), source=source)
        state.durations[outcome.docname] = round(outcome.seconds, 2)
        log.unlink(missing_ok=True)
        state.save()
        LOGGER.info(f"{path}: Executed notebook in {outcome.seconds:.2f} seconds")

    execution.run_all(jobs, n, done, started)
    execution.remember_durations({d: state.durations[d] for d in sources if d in state.durations})
    if failures:
        report = "\n\n".join(f"{path}: Executing notebook failed:\n{tb}" for path, tb in failures)
        raise ExtensionError(f"{len(failures)} notebook(s) failed to execute:\n\n{report}")


def place_late_static_files(app: Sphinx) -> None:
    """Copy into the site, before any page is written, the static files that myst-nb (its
    stylesheet) and sphinx-mathjax-offline (MathJax) copy only when the build finishes.

    Sphinx links a script or stylesheet with a ``?v=`` checksum when the file is already in the
    site as the page is written: without this, a first build links these two files without the
    checksum and a rebuild with it, and two builds of the same sources would differ."""
    if app.builder.format != "html":
        return
    (Path(app.builder.outdir) / "_static").mkdir(parents=True, exist_ok=True)
    from myst_nb import sphinx_ext as mystnb_ext

    mystnb_ext.add_global_html_resources(app, None)
    mathjax = app.extensions.get("sphinx-mathjax-offline")
    if mathjax is not None:
        mathjax.module.copy_mathjax_files(app, None)


class LatexCache:
    """Persistent memo of ``pybtex.richtext.Text.from_latex`` (string -> rich text) and of
    ``BaseStyle.format_entry`` (style, label and the entry's content -> formatted entry).

    ``install`` wraps both; each call returns a deep copy of the cached value, so a caller that
    mutates it cannot change what the next caller gets. ``save`` writes the memo back only if
    it grew (to the machine's llmbook cache, so an empty ``_build`` does not start it over;
    two builds saving at once keep one of their memos, which only costs the other's additions
    a parse). The key includes pybtex's version, so an upgrade re-parses. Both are pure
    functions of their key: a formatted entry depends on the style's class and options, the
    label and the entry's type, fields and people (:meth:`entry_key`), nothing else when no
    bibliography data is passed (sphinxcontrib-bibtex passes none)."""

    FILE = "llmbook-pybtex-latex.pickle"

    def __init__(self, folder: Path):
        import pybtex

        self.path = Path(folder) / self.FILE
        self.version = getattr(pybtex, "__version__", "?")
        self.memo: dict = {}
        self.entries: dict = {}
        self.added = False
        try:
            saved = pickle.loads(self.path.read_bytes())
            if isinstance(saved, dict) and saved.get("version") == self.version:
                self.memo = saved["memo"]
                self.entries = saved.get("entries", {})
        except Exception:  # missing, truncated or foreign file: start empty
            self.memo, self.entries = {}, {}

    @staticmethod
    def entry_key(style, label: str, entry) -> tuple:
        """What a formatted entry depends on (see the class docstring)."""
        people = tuple(
            (role, tuple(str(person) for person in persons))
            for role, persons in sorted(entry.persons.items())
        )
        options = (
            type(style).__module__, type(style).__qualname__, type(style.name_style).__qualname__,
            type(style.label_style).__qualname__, type(style.sorting_style).__qualname__,
            style.abbreviate_names, style.min_crossrefs,
        )  # fmt: skip
        fields = tuple(sorted((str(k), str(v)) for k, v in entry.fields.items()))
        return (options, label, entry.key, entry.type, fields, people)

    def install(self) -> None:
        import copy

        from pybtex import richtext

        original = richtext.Text.__dict__["from_latex"]
        if getattr(original, "_llmbook_cached", False):
            original = original._llmbook_original
        parse = original.__func__
        cache = self

        def from_latex(cls, latex):
            if latex not in cache.memo:
                cache.memo[latex] = parse(cls, latex)
                cache.added = True
            return copy.deepcopy(cache.memo[latex])

        wrapped = classmethod(from_latex)
        wrapped._llmbook_cached = True  # type: ignore[attr-defined]
        wrapped._llmbook_original = original  # type: ignore[attr-defined]
        richtext.Text.from_latex = wrapped

        from pybtex.style.formatting import BaseStyle

        format_original = BaseStyle.__dict__["format_entry"]
        format_original = getattr(format_original, "_llmbook_original", format_original)

        def format_entry(style, label, entry, bib_data=None):
            if bib_data is not None:
                return format_original(style, label, entry, bib_data=bib_data)
            key = cache.entry_key(style, label, entry)
            if key not in cache.entries:
                cache.entries[key] = format_original(style, label, entry)
                cache.added = True
            return copy.deepcopy(cache.entries[key])

        format_entry._llmbook_original = format_original  # type: ignore[attr-defined]
        BaseStyle.format_entry = format_entry

        # pybtex finds its style plugins by scanning every installed package's entry points,
        # once per citation: 852 scans, 8 of the 23 s a render of every page took. What is
        # installed does not change during a build, so each lookup is kept for the build.
        from pybtex import plugin

        scan = getattr(plugin.entry_points, "_llmbook_original", plugin.entry_points)
        found: dict = {}

        def entry_points(**selection):
            key = tuple(sorted(selection.items()))
            if key not in found:
                found[key] = tuple(scan(**selection))
            return found[key]

        entry_points._llmbook_original = scan  # type: ignore[attr-defined]
        plugin.entry_points = entry_points

    def save(self) -> None:
        if not self.added:
            return
        saved = {"version": self.version, "memo": self.memo, "entries": self.entries}
        paths.write_atomically(self.path, pickle.dumps(saved))
        self.added = False


def on_builder_inited(app: Sphinx) -> None:
    from llmbook import assets

    latex = LatexCache(assets.cache_dir())  # the machine's cache: a cold build reuses it too
    latex.install()
    app.llmbook_latex_cache = latex  # type: ignore[attr-defined]
    place_late_static_files(app)
    state = _State(app)
    app.llmbook_state = state  # type: ignore[attr-defined]
    validate_data(app, state)
    cache = open_cache(state)
    invalidate_changed(state, cache)
    execute_pending(app, state, cache)
    state.save()


def on_env_get_outdated(app, env, added, changed, removed) -> list[str]:
    return sorted(_state(app).stale & set(env.found_docs))


def on_source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    """Point a kernel that myst-nb itself may start for this document at a fresh inputs log."""
    log = _state(app).log_file(docname)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    os.environ[inputs.ENV_VAR] = str(log)


def on_doctree_read(app: Sphinx, doctree) -> None:
    """The document was read with its current outputs: it is no longer stale. If myst-nb
    executed it itself (not the parallel executor), store what its kernel read, and the whole
    library, since that kernel did not report its imported modules."""
    state = _state(app)
    docname = app.env.docname
    log = state.log_file(docname)
    os.environ.pop(inputs.ENV_VAR, None)
    state.stale.discard(docname)
    read = inputs.read_log(log)
    if not read:
        return  # not executed while read (cached, or not a notebook): keep what we knew
    log.unlink(missing_ok=True)
    uri = str(Path(app.env.doc2path(docname)).resolve())
    library = sorted(inputs.PACKAGE_DIR.rglob("*.py"))
    source = file_sha256(Path(uri))
    state.record(docname, uri, _cache_hashkey(state, uri), [*read, *library], source=source)


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


def with_outputs(current, executed):
    """The notebook ``current`` (the chapter as it is now: its prose may have been edited since
    it ran) with the outputs of ``executed`` (its cache record, whose code cells are the same:
    the record is keyed by them). Cell ids are numbered (jupytext draws random ones on every
    read) and run timestamps dropped, so two builds publish identical files."""
    codes = [c for c in executed.cells if c.cell_type == "code"]
    mine = [c for c in current.cells if c.cell_type == "code"]
    if [c.source for c in codes] != [c.source for c in mine]:
        raise ValueError("the cache record's code cells differ from the chapter's")
    for cell, ran in zip(mine, codes, strict=True):
        cell.outputs, cell.execution_count = ran.outputs, ran.execution_count
    for number, cell in enumerate(current.cells):
        cell.id = f"cell-{number}"
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
    return current


def publish_notebooks(app: Sphinx) -> None:
    """Write each executed chapter next to its page, with its outputs, without run timestamps.

    The cells come from the chapter as myst-nb read it (its output folder has the cells but not
    the outputs when it rendered from the cache), the outputs from the jupyter-cache record
    (:func:`with_outputs`). A notebook whose chapter and record are those it was last
    published from is not written again."""
    import nbformat

    state = _state(app)
    for docname in sorted(app.env.found_docs):
        source = executed_notebook(app, docname)
        if not source:
            continue
        known = state.docs.get(docname, {})
        hashkey = known.get("hashkey")
        target = Path(app.outdir) / f"{docname}.ipynb"
        stamp = hashlib.sha256(source.read_bytes()).hexdigest() + f":{hashkey}"
        if target.is_file() and known.get("published") == stamp:
            continue
        notebook = nbformat.read(source, as_version=4)
        cached = state.cache_dir / "executed" / str(hashkey) / "base.ipynb"
        if hashkey and cached.is_file():
            notebook = with_outputs(notebook, nbformat.read(cached, as_version=4))
        else:
            notebook = with_outputs(notebook, notebook)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(nbformat.writes(notebook), encoding="utf-8")
        if docname in state.docs:
            state.docs[docname]["published"] = stamp


#: Jupyter Book's default ``repository.url``: its own repository, not a book's.
JUPYTER_BOOK_DEFAULT_REPOSITORY = "https://github.com/executablebooks/jupyter-book"


def book_repository(config_url: str | None) -> str | None:
    """The book's GitHub repository as 'owner/name': ``LLMBOOK_REPOSITORY``, else
    ``repository.url`` of _config.yml (unless it is Jupyter Book's default), else
    ``GITHUB_REPOSITORY`` (set in GitHub Actions); None when none is known."""
    repo = os.environ.get("LLMBOOK_REPOSITORY", "").strip()
    if repo:
        return repo
    url = (config_url or "").strip().rstrip("/")
    if url and url != JUPYTER_BOOK_DEFAULT_REPOSITORY:
        prefix = "https://github.com/"
        name = url[len(prefix) :].removesuffix(".git") if url.startswith(prefix) else ""
        if name.count("/") != 1 or not all(name.split("/")):
            raise ExtensionError(
                f"repository.url in _config.yml must be https://github.com/owner/name, got {url!r}"
            )
        return name
    return os.environ.get("GITHUB_REPOSITORY", "").strip() or None


def on_config_inited(app: Sphinx, config) -> None:
    """Point the theme's repository and launch buttons at the repository, when it is known
    (:func:`book_repository`; without it the theme draws no launch button: it would need a
    guessed address)."""
    repo = book_repository((config.html_theme_options or {}).get("repository_url"))
    if not repo:
        # Jupyter Book's default repository is its own: launch links would open that one.
        options = dict(config.html_theme_options or {})
        options.pop("launch_buttons", None)
        config.html_theme_options = options
        return
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise ExtensionError(f"LLMBOOK_REPOSITORY must be 'owner/name', got {repo!r}")
    options = dict(config.html_theme_options or {})
    hub = os.environ.get("LLMBOOK_JUPYTERHUB_URL", "").strip()
    if hub:
        if not hub.startswith(("https://", "http://")):
            raise ExtensionError(f"LLMBOOK_JUPYTERHUB_URL must be a URL, got {hub!r}")
        options["launch_buttons"] = {**options.get("launch_buttons", {}), "jupyterhub_url": hub}
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
    latex = getattr(app, "llmbook_latex_cache", None)
    if latex is not None and exception is None:
        latex.save()
    if exception is None and app.builder.format == "html":
        static = Path(app.outdir) / paths.STATIC_DIR
        static.mkdir(parents=True, exist_ok=True)
        for asset in paths.itables_asset_paths():
            shutil.copyfile(asset, static / asset.name)
        publish_notebooks(app)
        state.save()


def setup(app: Sphinx) -> dict:
    # Worker processes that execute notebooks: "auto" (the usable cores) or a positive integer.
    app.add_config_value("llmbook_execution_workers", "auto", "env", [str, int])
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
