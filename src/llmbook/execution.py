"""Execute the book's notebooks in parallel, each in its own kernel, before Sphinx reads them.

Jupyter Book 1 executes notebooks one after another while Sphinx reads them (myst-nb's
``execute_notebooks: cache``), so a build on two cores leaves one idle. The book's Sphinx
extension (:mod:`llmbook.sphinx_ext`) instead finds, before reading, every notebook whose cache
record is missing or stale and hands them to :func:`run_all`, which runs one kernel per worker
process. Each executed notebook goes into jupyter-cache exactly as myst-nb would store it, so
myst-nb then finds every notebook cached and only renders it.

Two rules keep the outputs identical to a serial build:

- every kernel runs with one BLAS/OpenMP thread (:data:`SINGLE_THREAD_ENV`), whatever the number
  of workers, so floating-point reductions happen in the same order; and two kernels do not
  fight over the two cores;
- the notebook is executed as myst-nb's cache mode executes it (same cwd, timeout,
  ``allow_errors``, no per-cell timing metadata).

Kernels start from a warm process: on Linux each worker keeps a zygote that has imported
numpy, matplotlib and ipykernel once, and forks every kernel from it (:data:`PRELOAD`), so a
notebook does not pay for those imports again (about 1 s of a core each). A forked kernel starts
in the state of a freshly started one: the same environment, import path, working directory,
matplotlib backend and session; pandas is not preloaded, since it picks its display defaults at
import by whether a kernel is running. ``LLMBOOK_FORK_KERNELS=0`` starts every kernel afresh.
A forked kernel is used as soon as it answers (jupyter-client's client then waits for 0.2 s of
silence on IOPub) and its exit is checked every 5 ms instead of every 100 ms: an empty notebook
takes 0.26 s instead of 0.53 s (medians of 20 runs each, ranges 0.22-0.28 s and 0.51-0.56 s),
and a cold build's 35 notebooks leave a core idle about 9 s less.

After the last cell, the worker asks the kernel which ``llmbook`` modules it imported
(:func:`llmbook.inputs.note_modules`): the build then re-executes a notebook when one of *those*
modules changes, not when any file of the package does.

Jobs start longest first (:func:`longest_first`), which is what keeps the second core busy to
the end: started in name order, the book's longest chapter began last and ran alone for 34 s of
a cold build. The expected duration of a notebook is the longest of its last execution time in
this build folder and its recent ones on this machine (:func:`machine_durations`, a small file
in the asset cache, so a fresh clone's cold build is scheduled as well as a rebuild); for a
notebook never run, its source size stands in. The order
changes only when each notebook runs, never what it computes.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from llmbook import inputs, paths

#: Where the last execution time of each notebook on this machine is kept (in the asset cache).
DURATIONS_FILE = "execution-seconds.json"

#: Environment of every kernel: one BLAS/OpenMP thread (see the module docstring).
SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}

#: Run in the kernel after the notebook's last cell; prints nothing, changes no output.
RECORD_MODULES = (
    "import sys as _llmbook_sys\n"
    "_llmbook_used = [m for m in _llmbook_sys.modules if m.split('.')[0] == 'llmbook']\n"
    "if _llmbook_used:\n"
    "    from llmbook import inputs as _llmbook_inputs\n"
    "    _llmbook_inputs.note_modules(_llmbook_used)\n"
    "    del _llmbook_inputs\n"
    "del _llmbook_sys, _llmbook_used\n"
)


@dataclass(frozen=True)
class Job:
    """One notebook to execute: its document name, the notebook as JSON, where and how."""

    docname: str
    notebook_json: str
    cwd: str
    timeout: int | None
    allow_errors: bool
    log: str  # the inputs log its kernel writes (llmbook.inputs)
    validated_data: str | None = None  # digest of the data package the build validated


@dataclass(frozen=True)
class Outcome:
    """What executing a :class:`Job` gave: the executed notebook, or the error's traceback."""

    docname: str
    notebook_json: str | None
    seconds: float
    error: str | None


def workers(setting: int | str | None, jobs: int) -> int:
    """The number of worker processes: ``setting`` (``"auto"``/0/None: the usable cores),
    never more than the jobs to run nor the cores this process may use, and at least 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    if setting in (None, "auto", 0, "0"):
        wanted = cores
    else:
        try:
            wanted = int(setting)
        except (TypeError, ValueError):
            raise ValueError(
                f"llmbook_execution_workers must be 'auto' or a positive integer, got {setting!r}"
            ) from None
        if wanted < 1:
            raise ValueError(f"llmbook_execution_workers must be at least 1, got {wanted}")
    return max(1, min(wanted, cores, jobs))


def longest_first(
    jobs: list[Job], *known: dict[str, float], size: Callable[[Job], int] | None = None
) -> list[Job]:
    """``jobs`` ordered for the shortest makespan: longest expected duration first.

    A job's expected duration is the longest the ``known`` maps (docname to seconds) give it: a
    chapter that keeps model results in a cache of its own runs in 7 s or 50 s depending on that
    cache, and starting it late costs more than starting it early. Jobs no map knows come first
    (they may be long; ``size``, e.g. the source length, orders them among themselves, largest
    first), then the known ones by decreasing duration; ties by docname, so the order is
    deterministic."""

    def key(job: Job):
        seen = [d.get(job.docname) for d in known]
        seconds = [float(s) for s in seen if isinstance(s, (int, float))]
        if seconds:
            return (1, -max(seconds), job.docname)
        return (0, -(size(job) if size else 0), job.docname)

    return sorted(jobs, key=key)


#: How many of a notebook's latest execution times this machine keeps.
DURATIONS_KEPT = 5


def _recorded(folder: Path | None) -> dict[str, list[float]]:
    try:
        saved = json.loads(_durations_path(folder).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(saved, dict):
        return {}
    recorded = {}
    for name, times in saved.items():
        times = times if isinstance(times, list) else [times]
        times = [float(t) for t in times if isinstance(t, (int, float))]
        if times:
            recorded[name] = times
    return recorded


def machine_durations(folder: Path | None = None) -> dict[str, float]:
    """The longest of the latest :data:`DURATIONS_KEPT` execution times of each notebook on this
    machine (empty if none is recorded or the file is unreadable: it only orders the jobs)."""
    return {name: max(times) for name, times in _recorded(folder).items()}


def remember_durations(durations: dict[str, float], folder: Path | None = None) -> None:
    """Add ``durations`` to this machine's record (atomically; a failure to write is ignored,
    since the record only orders later builds)."""
    path = _durations_path(folder)
    merged = _recorded(folder)
    for name, seconds in durations.items():
        merged[name] = [*merged.get(name, []), round(seconds, 2)][-DURATIONS_KEPT:]
    try:
        paths.write_atomically(path, json.dumps(merged, indent=1, sort_keys=True))
    except OSError:
        pass


def _durations_path(folder: Path | None) -> Path:
    if folder is None:
        from llmbook import assets

        folder = assets.cache_dir()
    return Path(folder) / DURATIONS_FILE


# ----------------------------------------------------------------------------------------------
# Kernels forked from a process that has already imported what every chapter imports

#: Imported once per worker by its zygote; each kernel is forked from that state instead of
#: importing them again. Third-party modules only: a preloaded ``llmbook`` module would be recorded
#: as read by every notebook (:data:`RECORD_MODULES`) and defeat per-module invalidation.
#: Not pandas: it chooses its display defaults at import by whether it runs in a kernel (a
#: DataFrame's plain-text form would change).
PRELOAD = ("numpy", "matplotlib.pyplot", "ipykernel.kernelapp")

#: What ipykernel sets before a kernel's user code runs, unless set already; set in the zygote
#: before matplotlib is imported, since matplotlib reads it at import.
INLINE_BACKEND = {"MPLBACKEND": "module://matplotlib_inline.backend_inline"}

#: Environment variables read while Python starts or the preloaded modules are imported: a
#: kernel is forked only from a zygote started with the same values (else one is started).
IMPORT_ENV = (
    "PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "PYTHONNOUSERSITE", "PYTHONUSERBASE",
    "PYTHONHASHSEED", "PYTHONWARNINGS", "MPLBACKEND", "MPLCONFIGDIR", *SINGLE_THREAD_ENV,
)  # fmt: skip

#: The zygote: imports the modules named in argv, then for each request line (JSON: argv, env,
#: cwd) forks a child that becomes ``python -m ipykernel_launcher <argv>`` there, and answers
#: with the child's pid. Children are reaped automatically; EOF on stdin ends the zygote.
ZYGOTE_SOURCE = """
import json, os, signal, sys
if sys.path and sys.path[0] == "":
    del sys.path[0]
for name in sys.argv[1:]:
    __import__(name)
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.setsid()
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 0)
            os.dup2(2, 1)
            os.environ.clear()
            os.environ.update(request["env"])
            os.chdir(request["cwd"])
            # ipykernel read JPY_PARENT_PID when the zygote imported it: name the parent here
            # (the zygote, which ends with its worker), so the kernel ends with it too.
            parent = f"--IPKernelApp.parent_handle={os.getppid()}"
            import importlib.util
            launcher = importlib.util.find_spec("ipykernel_launcher").origin
            sys.argv = [launcher, *request["argv"], parent]
            from ipykernel import kernelapp
            kernelapp.launch_new_instance()
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 0
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            os._exit(code)
    sys.stdout.write(f"{pid}\\n")
    sys.stdout.flush()
"""


class _Forked:
    """The part of :class:`subprocess.Popen` jupyter-client uses, for a kernel the zygote forked.

    The kernel is watched and signalled through a pidfd (Linux 5.3+), so a pid reused after the
    kernel ended can never be mistaken for it; its exit status goes to the zygote, which reaps
    it, so an ended kernel reports 0."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        try:
            self._fd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:  # already ended
            self._fd, self.returncode = None, 0

    def poll(self) -> int | None:
        import select

        if self.returncode is None and self._fd is not None:
            if select.select([self._fd], [], [], 0)[0]:  # readable once the process ended
                os.close(self._fd)
                self._fd, self.returncode = None, 0
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import select
        import subprocess

        if self.poll() is None:
            if not select.select([self._fd], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            self.poll()
        return 0

    def send_signal(self, signum: int) -> None:
        import signal

        if self.poll() is None:
            signal.pidfd_send_signal(self._fd, signum)

    def terminate(self) -> None:
        import signal

        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        import signal

        self.send_signal(signal.SIGKILL)


def _import_key(env: dict[str, str]) -> tuple:
    return tuple(env.get(name) for name in IMPORT_ENV)


class _Zygote:
    """One zygote process (:data:`ZYGOTE_SOURCE`), started with a kernel's environment."""

    def __init__(self, env: dict[str, str]):
        import subprocess
        import sys

        self.key = _import_key(env)
        self.process = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE_SOURCE, *PRELOAD],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
        )  # fmt: skip

    def fork(self, argv: list[str], env: dict[str, str], cwd: str) -> _Forked:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"argv": argv, "env": env, "cwd": cwd}) + "\n")
        self.process.stdin.flush()
        reply = self.process.stdout.readline()
        if not reply:
            raise RuntimeError(f"the kernel zygote ended (exit code {self.process.wait()})")
        return _Forked(int(reply))


_zygote: _Zygote | None = None


def _zygote_for(env: dict[str, str]) -> _Zygote:
    """This process's zygote for a kernel with environment ``env`` (started if needed)."""
    global _zygote
    if _zygote is None or _zygote.process.poll() is not None or _zygote.key != _import_key(env):
        if _zygote is None:
            import atexit

            atexit.register(_end_zygote)
        _end_zygote()
        _zygote = _Zygote(env)
    return _zygote


def _end_zygote() -> None:
    """Close this process's zygote, if any: EOF on its stdin ends it."""
    global _zygote
    if _zygote is not None:
        for pipe in (_zygote.process.stdin, _zygote.process.stdout):
            if pipe is not None:
                pipe.close()
        _zygote.process.wait()
        _zygote = None


def forks_kernels() -> bool:
    """Whether kernels are forked from a zygote here: on Linux with pidfds (fork after
    importing matplotlib is not safe on macOS), unless ``LLMBOOK_FORK_KERNELS=0``."""
    import signal
    import sys

    return (
        sys.platform == "linux"
        and hasattr(os, "pidfd_open")
        and hasattr(signal, "pidfd_send_signal")
        and os.environ.get("LLMBOOK_FORK_KERNELS", "1") != "0"
    )


#: How often a kernel's exit is checked after its shutdown request: jupyter-client checks every
#: 0.1 s, and a kernel exits within a few milliseconds, so each notebook waited about 0.1 s.
EXIT_POLL_SECONDS = 0.005


def _ready_client_class():
    from queue import Empty

    from jupyter_client.asynchronous import AsyncKernelClient

    class ReadyClient(AsyncKernelClient):
        """jupyter-client's kernel client, except that :meth:`wait_for_ready` returns as soon as
        the kernel has answered and IOPub is seen connected.

        jupyter-client's version then drains IOPub until it has been silent for 0.2 s: 0.2 s of
        an idle core per notebook. What it would drain (the kernel's status messages about the
        ``kernel_info`` request) is taken if it has already arrived and otherwise left: nbclient
        reads only the IOPub messages whose parent is the request of the cell it executes."""

        async def wait_for_ready(self, timeout: float | None = None) -> None:
            deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
            while True:  # as jupyter-client: kernel_info until answered, IOPub connected
                self.kernel_info()
                try:
                    msg = await self.shell_channel.get_msg(timeout=1)
                except Empty:
                    pass
                else:
                    if msg["msg_type"] == "kernel_info_reply":
                        try:
                            await self.iopub_channel.get_msg(timeout=0.2)
                        except Empty:
                            pass
                        else:
                            self._handle_kernel_info_reply(msg)
                            break
                if not await self._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")
            while True:  # what has already arrived, without waiting for more
                try:
                    await self.iopub_channel.get_msg(timeout=0)
                except Empty:
                    break

    return ReadyClient


def _kernel_manager_class():
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    ready_client = _ready_client_class()

    class ForkingKernelManager(AsyncKernelManager):
        """Starts an ipykernel of this Python by forking it from the zygote; any other kernel
        as jupyter-client does. Its clients are :func:`_ready_client_class`'s, and a kernel's
        exit is checked every :data:`EXIT_POLL_SECONDS`."""

        @default("client_factory")
        def _ready_client_factory(self):
            return ready_client

        async def _async_wait(self, pollinterval: float = 0.1) -> None:
            await super()._async_wait(pollinterval=min(pollinterval, EXIT_POLL_SECONDS))

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
            import sys

            env = {k: str(v) for k, v in kw.get("env", os.environ).items()}
            env = {**INLINE_BACKEND, **env}
            if not kw.get("independent"):  # as jupyter-client's launcher adds it
                env["JPY_PARENT_PID"] = str(os.getpid())
            relative = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
            if kernel_cmd[:3] != [sys.executable, "-m", "ipykernel_launcher"] or not all(
                os.path.isabs(p) for p in relative
            ):  # another kernel, or an import path that depends on the kernel's cwd
                return await super()._async_launch_kernel(kernel_cmd, **kw)
            provisioner = self.provisioner
            assert provisioner is not None
            cwd = str(kw.get("cwd") or os.getcwd())
            process = _zygote_for(env).fork(kernel_cmd[3:], env, cwd)
            provisioner.process = process
            provisioner.pid = provisioner.pgid = process.pid  # the child called setsid()
            provisioner.cwd = cwd
            self._reconcile_connection_info(provisioner.connection_info)

    return ForkingKernelManager


def _client_class():
    from nbclient import NotebookClient

    class RecordingClient(NotebookClient):
        """A notebook client that, after the last cell, records the imported llmbook modules."""

        async def async_execute_cell(self, cell, cell_index, execution_count=None, **kwargs):
            result = await super().async_execute_cell(cell, cell_index, execution_count, **kwargs)
            if cell_index == len(self.nb.cells) - 1 and self.kc is not None:
                msg_id = self.kc.execute(RECORD_MODULES, silent=True, store_history=False)
                await self.async_wait_for_reply(msg_id)
            return result

    return RecordingClient


def run_job(job: Job) -> Outcome:
    """Execute one notebook in a fresh kernel (in the calling process); never raises for a
    failing cell: the outcome carries its traceback."""
    import nbformat
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    notebook = nbformat.reads(job.notebook_json, as_version=4)
    timeout, allow_errors = job.timeout, job.allow_errors
    overrides = notebook.metadata.get("execution", {})  # as jupyter-cache's meta_override
    timeout = overrides.get("timeout", timeout)
    allow_errors = overrides.get("allow_errors", allow_errors)
    extra = {"kernel_manager_class": _kernel_manager_class()} if forks_kernels() else {}
    client = _client_class()(
        notebook,
        **extra,
        timeout=timeout,
        allow_errors=allow_errors,
        record_timing=False,
        # A print arrives as one stream message or several, as the kernel's flushes happen to
        # fall; merged, the stored outputs (and the page) are the same in every run.
        coalesce_streams=True,
        resources={"metadata": {"path": job.cwd}},
    )
    env = {**os.environ, **SINGLE_THREAD_ENV, inputs.ENV_VAR: job.log}
    if job.validated_data:
        from llmbook import catalog

        env[catalog.VALIDATED_ENV] = job.validated_data
    start = time.perf_counter()
    error = None
    try:
        client.execute(env=env)
    except (CellExecutionError, CellTimeoutError, DeadKernelError):
        error = traceback.format_exc()
    seconds = time.perf_counter() - start
    text = None if error else nbformat.writes(notebook)
    return Outcome(job.docname, text, seconds, error)


def run_all(
    jobs: Iterable[Job], n_workers: int, on_done: Callable[[Outcome], None],
    on_start: Callable[[Job, int], None] | None = None,
) -> None:  # fmt: skip
    """Execute ``jobs`` (in the given order, longest first is best) on ``n_workers`` processes,
    calling ``on_done`` in this process as each finishes. Every job runs even if one fails."""
    jobs = list(jobs)
    if not jobs:
        return
    context = multiprocessing.get_context("spawn")  # no fork of Sphinx's state into workers
    with ProcessPoolExecutor(max_workers=n_workers, mp_context=context) as pool:
        pending, queue = {}, list(jobs)
        while queue or pending:
            while queue and len(pending) < n_workers:
                job = queue.pop(0)
                if on_start:
                    on_start(job, len(jobs) - len(queue))
                pending[pool.submit(run_job, job)] = job
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                job = pending.pop(future)
                try:
                    outcome = future.result()
                except Exception:  # the worker itself died: report it as the notebook's failure
                    outcome = Outcome(job.docname, None, 0.0, traceback.format_exc())
                on_done(outcome)
