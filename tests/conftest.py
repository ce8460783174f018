"""Shared fixtures: the repository root and throw-away copies of the data package."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread():
    """The tests run with one BLAS thread, as the book's kernels do. The session's cold build
    keeps both cores busy behind the quick tests; a second BLAS thread in this process only
    fights it (a 3 s model test took 27 s that way)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of data/ to break on purpose, with the bibliography beside it (as in the
    repository) so that ``source`` keys are checked against it."""
    target = tmp_path / "data"
    shutil.copytree(ROOT / "data", target)
    (tmp_path / "book").mkdir()
    shutil.copy(ROOT / "book" / "references.bib", tmp_path / "book" / "references.bib")
    return target


def edit_cell(csv: Path, row: int, column: str, value: str) -> None:
    """Set one cell of a CSV file; ``row`` is the file's line number (header = line 1)."""
    import csv as csvlib

    with csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csvlib.reader(handle))
    col = rows[0].index(column)
    rows[row - 1][col] = value
    with csv.open("w", newline="", encoding="utf-8") as handle:
        csvlib.writer(handle, lineterminator="\n").writerows(rows)


JB = Path(sys.executable).with_name("jb")
IGNORE = shutil.ignore_patterns(
    "_build", ".venv", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", "*.egg-info",
    ".hypothesis", "test-artifacts",
)  # fmt: skip
REPOSITORY_VARIABLES = ("GITHUB_REPOSITORY", "LLMBOOK_REPOSITORY")
#: The repository the session's builds publish for: the site's repository, edit and launch
#: buttons point at it (a build without one draws none; test_build checks that on a small book).
TEST_REPOSITORY = "example-org/replicating-chatgpt"
SITE_ENV = {"LLMBOOK_REPOSITORY": TEST_REPOSITORY}
#: The no-change rebuild budget of GUIDE §6.
NO_CHANGE_REBUILD_SECONDS = 5.0


def copy_book(target: Path) -> Path:
    """A copy of the repository (sources, data, config) to build or break on purpose."""
    shutil.copytree(ROOT, target, ignore=IGNORE)
    return target


def seed_cache(source: Path, target: Path) -> None:
    """Give the copy ``target`` the executed-notebook cache of the built copy ``source``.

    A seeded build re-executes only what differs from ``source`` (the data-aware cache sees to
    that), so the tests that need a built book but not a cold build stay fast.
    """
    cache = source / "_build" / ".jupyter_cache"
    shutil.copytree(cache, target / "_build" / ".jupyter_cache", dirs_exist_ok=True)


#: Runs a command in a new network namespace with only the loopback interface up.
NETNS_PREFIX = ("unshare", "-n", "sh", "-c", 'ip link set lo up; exec "$@"', "sh")
#: Where no namespace can be made: a sitecustomize that makes every non-loopback connect fail.
SOCKET_GUARD = (
    "import socket\n_connect = socket.socket.connect\n"
    "def connect(self, address):\n"
    "    host = address[0] if isinstance(address, tuple) else address\n"
    "    local = ('127.', '::1', 'localhost', '/')\n"
    "    if isinstance(host, str) and not host.startswith(local):\n"
    "        raise OSError('network disabled by the offline test')\n"
    "    return _connect(self, address)\n"
    "socket.socket.connect = connect\n"
)


def jb_command(
    book: Path, env: dict | None = None, prefix: tuple = (), offline: bool = False
) -> tuple[list[str], dict]:
    """The README's build command for ``book`` and its environment, with the copy's own library
    (its ``src`` on PYTHONPATH, so a test may edit a module of the copy). ``offline``: in a new
    network namespace, or, where none can be made, with every non-loopback connection refused."""
    # The repository buttons follow GITHUB_REPOSITORY in GitHub Actions: tests set it themselves.
    base = {k: v for k, v in os.environ.items() if k not in REPOSITORY_VARIABLES}
    paths = [str(book / "src")]
    if offline:
        if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
            prefix = (*NETNS_PREFIX, *prefix)
        else:
            guard = book / "_offline_guard"
            guard.mkdir(exist_ok=True)
            (guard / "sitecustomize.py").write_text(SOCKET_GUARD, encoding="utf-8")
            paths.insert(0, str(guard))
    argv = [*prefix, str(JB), "build", "-W", "-n", "--keep-going", "."]
    return argv, {**base, "PYTHONPATH": os.pathsep.join(paths), **(env or {})}


def jb_build(
    book: Path, env: dict | None = None, prefix: tuple = (), offline: bool = False
) -> subprocess.CompletedProcess:
    """Run :func:`jb_command` in ``book`` and wait for it."""
    argv, environment = jb_command(book, env, prefix, offline)
    return subprocess.run(
        argv, cwd=book, capture_output=True, text=True, timeout=900, env=environment
    )


def timed_build(book: Path, env: dict | None = None) -> tuple[subprocess.CompletedProcess, float]:
    """:func:`jb_build`, and the CPU seconds (user + system) the build and the processes it
    waited for used: unlike its wall time, that does not grow when other tests load the cores."""
    argv, environment = jb_command(book, env)
    out, err = book.parent / "timed.stdout", book.parent / "timed.stderr"
    with out.open("w") as o, err.open("w") as e:
        process = subprocess.Popen(argv, cwd=book, env=environment, stdout=o, stderr=e)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    logs = (f.read_text(encoding="utf-8", errors="replace") for f in (out, err))
    result = subprocess.CompletedProcess(argv, process.returncode, *logs)
    return result, usage.ru_utime + usage.ru_stime


class BackgroundBuild:
    """A build started now and collected later: the session's cold build runs while the tests
    that need no built book run, so the second core is not idle while one notebook finishes."""

    def __init__(self, book: Path, **options):
        self.book = book
        argv, environment = jb_command(book, **options)
        self.logs = [book.parent / "build.stdout", book.parent / "build.stderr"]
        with self.logs[0].open("w") as out, self.logs[1].open("w") as err:
            self.process = subprocess.Popen(argv, cwd=book, env=environment, stdout=out, stderr=err)

    def result(self) -> subprocess.CompletedProcess:
        code = self.process.wait(timeout=900)
        out, err = (log.read_text(encoding="utf-8", errors="replace") for log in self.logs)
        return subprocess.CompletedProcess(self.process.args, code, out, err)


def needs_the_built_book(item) -> bool:
    return "site_build" in getattr(item, "fixturenames", ())


def needs_the_work_copy(item) -> bool:
    return "work" in getattr(item, "fixturenames", ())


def pytest_configure(config):
    """``-n`` (pytest-xdist) is for the quick run: each worker process would start its own cold
    build of the book for the slow tests."""
    workers = config.getoption("numprocesses", default=None)
    if workers and "not slow" not in (config.getoption("markexpr", default="") or ""):
        raise pytest.UsageError(
            '-n runs the quick tests only: add -m "not slow" (the slow tests share one cold '
            "build of the book, which each -n worker would start again)"
        )


def pytest_collection_modifyitems(session, config, items):
    """The tests that need the built book run last (stable order otherwise), so the session's
    cold build, started in the background by the first test, overlaps every other test; of
    those, the ones that need the work copy's rebuilds run last, so the rebuilds (started in the
    background once the cold build is done) overlap the browser tests."""
    items[:] = sorted(items, key=lambda i: (needs_the_built_book(i), needs_the_work_copy(i)))


@pytest.fixture(scope="session", autouse=True)
def _cold_build(request, tmp_path_factory):
    """Starts the session's one cold build at the first test if any selected test needs it."""
    if not any(needs_the_built_book(item) for item in request.session.items):
        yield None
        return
    book = copy_book(tmp_path_factory.mktemp("site") / "book")
    build = BackgroundBuild(book, env=SITE_ENV, offline=True)
    yield build
    if build.process.poll() is None:
        build.process.kill()
        build.process.wait()


def offline_how() -> str:
    ok = subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0
    return "network namespace" if ok else "socket guard"


def toc_files(book: Path) -> list[str]:
    toc = yaml.safe_load((book / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return files


def executed(log: str) -> set[str]:
    """Documents the build log says it executed."""
    return set(re.findall(r"([\w./-]+)\.md: Executing notebook", log))


@pytest.fixture(scope="session")
def site_build(_cold_build) -> tuple[Path, subprocess.CompletedProcess]:
    """The one cold, strict build of a copy of the book, made with no network; every test that
    needs a built book uses it or starts from its notebook cache (``seed_cache``)."""
    return _cold_build.book, _cold_build.result()


@pytest.fixture(scope="session")
def site(site_build, request, tmp_path_factory) -> Path:
    book, result = site_build
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    if any(needs_the_work_copy(item) for item in request.session.items):
        request.session.llmbook_work = BackgroundWork(tmp_path_factory, book)
    return book


def state_of(book: Path) -> dict:
    """The build's record of which files each notebook read (llmbook.sphinx_ext)."""
    path = book / "_build" / ".jupyter_cache" / "llmbook-inputs.json"
    return json.loads(path.read_text(encoding="utf-8"))


def readers_of(book: Path, relative: str) -> set[str]:
    """The documents whose recorded inputs include ``relative`` (a path inside the copy)."""
    docs = state_of(book)["docs"]
    return {doc for doc, record in docs.items() if relative in record["inputs"]}


#: The table the work copy edits: shown in an interactive table (for the escaping test) and read
#: by two chapters, so the edit's rebuild stays short. Which chapters read what is the build's
#: record, not this list: the test compares the executed chapters with ``readers_of``.
EDITED_TABLE = "data/instruction_datasets.csv"
EDITED_PAGE = "book/part3-instruction-tuning/datasets.html"
EDITED_TABLE_ID = "#table-instruction-datasets"
MARKER = "Cache-test marker: this cell was edited after the first build."
HOSTILE = "<script>alert(1)</script> <b>bold?</b>"


def snapshot(html: Path, name: str) -> Path:
    target = html.parent / f"{html.name}-{name}"
    subprocess.run(["rm", "-rf", str(target)], check=True)
    subprocess.run(["cp", "-a", str(html), str(target)], check=True)
    return target


def interrupted_build(book: Path, doc: str) -> str:
    """Start the README's build, stop it like Ctrl-C once ``doc`` is executing; its log."""
    env = {**os.environ, **SITE_ENV, "PYTHONPATH": str(book / "src")}
    process = subprocess.Popen(
        [str(JB), "build", "-W", "-n", "--keep-going", "."], cwd=book, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    log, deadline = [], time.monotonic() + 300
    for line in process.stdout:
        log.append(line)
        if f"{doc}.md: Executing notebook" in line or time.monotonic() > deadline:
            break
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return "".join(log)


class BackgroundWork:
    """The work copy's rebuilds (:func:`work_steps`), run in a thread from the moment the cold
    build is done, while the browser tests use the built site."""

    def __init__(self, tmp_path_factory, site: Path):
        self.steps, self.error = None, None
        self.thread = threading.Thread(target=self._run, args=(tmp_path_factory, site))
        self.thread.start()

    def _run(self, tmp_path_factory, site):
        try:
            self.steps = work_steps(tmp_path_factory, site)
        except BaseException as error:  # re-raised in the test that needs the steps
            self.error = error

    def result(self) -> dict:
        self.thread.join(timeout=1800)
        if self.error is not None:
            raise self.error
        assert self.steps is not None, "the work copy's rebuilds did not finish"
        return self.steps


@pytest.fixture(scope="session")
def work(site, request) -> dict:
    """The work copy's rebuilds (started in the background by ``site``)."""
    return request.session.llmbook_work.result()


def work_steps(tmp_path_factory, site: Path) -> dict:
    """One copy, seeded with the cold build's notebook cache, rebuilt after each edit.

    Its first build, with a CSV edit, is also a clean render: every page that does not read the
    edited table comes from the cold build's cache through a fresh Sphinx environment."""
    book = copy_book(tmp_path_factory.mktemp("work") / "book")
    seed_cache(site, book)
    steps = {"book": book}
    html = book / "_build" / "html"
    steps["edited_readers"] = readers_of(book, EDITED_TABLE)
    edit_cell(book / EDITED_TABLE, 2, "licence", f"{MARKER} {HOSTILE}")
    steps["csv_edit"] = jb_build(book, env=SITE_ENV)
    steps["csv_html"] = snapshot(html, "csv-edit")
    start = time.perf_counter()
    steps["no_change"], steps["no_change_cpu_seconds"] = timed_build(book, env=SITE_ENV)
    steps["no_change_seconds"] = time.perf_counter() - start
    steps["nf4_readers"] = readers_of(book, "src/llmbook/nf4.py")
    with (book / "src" / "llmbook" / "nf4.py").open("a", encoding="utf-8") as module:
        module.write("\n# A library edit: only the chapters that imported nf4 re-execute.\n")
    steps["library_edit"] = jb_build(book, env=SITE_ENV)
    steps["library_html"] = snapshot(html, "library-edit")
    # Interrupt a build while the chapter reading the edited row executes; the next must finish it.
    edit_cell(book / "data" / "sft_runs.csv", 2, "hours", "7.5")
    steps["interrupted_log"] = interrupted_build(book, "sft-cost")
    steps["after_interrupt"] = jb_build(book, env=SITE_ENV)
    return steps
