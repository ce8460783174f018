"""llmbook.execution: notebooks executed in worker processes, each in its own kernel."""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest

from llmbook import execution, inputs


def notebook(*sources: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    return nbformat.writes(nb)


def job(tmp_path, name: str, *sources: str) -> execution.Job:
    return execution.Job(
        docname=name, notebook_json=notebook(*sources), cwd=str(tmp_path), timeout=60,
        allow_errors=False, log=str(tmp_path / f"{name}.log"),
    )  # fmt: skip


def test_workers_respects_the_setting_the_cores_and_the_jobs():
    cores = len(os.sched_getaffinity(0))
    assert execution.workers("auto", 100) == cores
    assert execution.workers(None, 100) == cores
    assert execution.workers(1, 100) == 1
    assert execution.workers("auto", 1) == 1
    assert execution.workers(cores + 5, 100) == cores
    for bad in ("many", -1, 0.5):
        with pytest.raises(ValueError, match="llmbook_execution_workers"):
            execution.workers(bad, 3)


def test_a_kernel_runs_single_threaded_and_records_the_modules_it_imported(tmp_path):
    outcome = execution.run_job(
        job(
            tmp_path, "probe",
            "import os\nprint(os.environ['OPENBLAS_NUM_THREADS'], os.environ['OMP_NUM_THREADS'])",
            "from llmbook import nf4\n1 + 1",
        )
    )  # fmt: skip
    assert outcome.error is None, outcome.error
    executed = nbformat.reads(outcome.notebook_json, as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == "1 1"
    assert executed.cells[1].outputs[0]["data"]["text/plain"] == "2"
    assert "execution" not in executed.cells[0].metadata  # no per-cell timing: reproducible
    read = {p.name for p in inputs.read_log(tmp_path / "probe.log")}
    assert {"__init__.py", "nf4.py"} <= read
    assert "smollm.py" not in read  # not imported by this notebook, not recorded


def test_every_job_runs_and_a_failure_carries_its_traceback(tmp_path):
    done = []
    jobs = [job(tmp_path, "boom", "1 / 0"), job(tmp_path, "fine", "x = 2\nx * 21")]
    execution.run_all(jobs, 2, done.append)
    outcomes = {o.docname: o for o in done}
    assert set(outcomes) == {"boom", "fine"}
    assert outcomes["boom"].notebook_json is None
    assert "ZeroDivisionError" in outcomes["boom"].error
    assert outcomes["fine"].error is None
    result = nbformat.reads(outcomes["fine"].notebook_json, as_version=4)
    assert result.cells[0].outputs[0]["data"]["text/plain"] == "42"


def test_a_cells_printed_text_is_one_output_however_the_kernel_flushed_it(tmp_path):
    """Two flushes inside one cell send two stream messages; stored, they are one output, so
    a chapter's notebook does not depend on when the kernel's output thread woke up."""
    source = "import sys\nprint('a', end='')\nsys.stdout.flush()\nprint('b')"
    outcome = execution.run_job(job(tmp_path, "printer", source))
    outputs = nbformat.reads(outcome.notebook_json, as_version=4).cells[0].outputs
    assert [(o["output_type"], o["text"]) for o in outputs] == [("stream", "ab\n")]


@pytest.fixture
def forking(monkeypatch):
    """Kernels forked from the zygote, however pytest was started (a relative PYTHONPATH, as
    in ``PYTHONPATH=src pytest``, is never forked)."""
    if not execution.forks_kernels():
        pytest.skip("kernels are forked on Linux only")
    monkeypatch.setenv("PYTHONPATH", str(Path(execution.__file__).resolve().parents[1]))
    monkeypatch.setenv("LLMBOOK_FORK_KERNELS", "1")


KERNEL_STATE = """\
import os, sys, threading
print("matplotlib.pyplot" in sys.modules)  # before the cell imports anything: preloaded?
import matplotlib, numpy, pandas
from threadpoolctl import threadpool_info
print(pandas.get_option("display.max_columns"), pandas.get_option("display.width"))
print(matplotlib.get_backend(), matplotlib.is_interactive())
print(os.path.basename(sys.argv[0]), sys.path, os.getcwd())
print(sorted(k for k in os.environ if k.startswith(("OMP", "OPENBLAS", "MKL", "MPL", "JPY"))))
print(threading.active_count(), [i["num_threads"] for i in threadpool_info()])
print(os.getpgid(0) == os.getpid(), os.environ["LLMBOOK_TEST_VALUE"])
"""


def test_a_forked_kernel_starts_in_the_state_of_a_freshly_started_one(
    tmp_path, monkeypatch, forking
):
    """Forked from the zygote or started as its own process, a kernel sees the same display
    defaults, matplotlib backend, argv, import path, cwd, environment, threads and session."""
    seen = {}
    for fork in ("1", "0"):
        monkeypatch.setenv("LLMBOOK_FORK_KERNELS", fork)
        monkeypatch.setenv("LLMBOOK_TEST_VALUE", f"set before the kernel {fork}")
        outcome = execution.run_job(job(tmp_path, "state", KERNEL_STATE))
        assert outcome.error is None, outcome.error
        cell = nbformat.reads(outcome.notebook_json, as_version=4).cells[0]
        preloaded, state = cell.outputs[0]["text"].split("\n", 1)
        assert preloaded == ("True" if fork == "1" else "False")
        seen[fork] = state.replace(f"kernel {fork}", "kernel")
    assert seen["1"] == seen["0"]
    assert "module://matplotlib_inline.backend_inline" in seen["1"]


def test_a_kernel_that_dies_fails_its_job_promptly(tmp_path, forking):
    """A forked kernel's exit is seen like a started one's: the job fails as a dead kernel,
    long before its 60 s timeout, and the next job still gets a kernel."""
    start = time.monotonic()
    dies = execution.run_job(job(tmp_path, "dies", "import os\nos._exit(3)"))
    after = execution.run_job(job(tmp_path, "after", "6 * 7"))
    assert "DeadKernelError" in dies.error
    assert after.error is None
    assert time.monotonic() - start < 30


def test_a_kernel_is_ready_once_it_answers_without_waiting_for_silence(tmp_path, forking):
    """The client's wait for a new kernel never waits out a timeout on IOPub (jupyter-client's
    waits until IOPub has been silent for 0.2 s: an idle core for each notebook), and the
    first cell's output is still seen whole."""
    import asyncio
    from queue import Empty

    async def scenario() -> tuple[list[float], list[str]]:
        manager = execution._kernel_manager_class()(kernel_name="python3")
        await manager.start_kernel(cwd=str(tmp_path))
        client = manager.client()
        client.start_channels()
        waited, seen, get_msg = [], [], client.iopub_channel.get_msg

        async def spy(*args, timeout=None, **kwargs):
            try:
                seen.append(await get_msg(*args, timeout=timeout, **kwargs))
                return seen[-1]
            except Empty:
                if seen:  # IOPub is connected: a wait that runs out is time spent idle (a
                    waited.append(timeout)  # wait before that, on a loaded machine, is not)
                raise

        client.iopub_channel.get_msg = spy
        try:
            await client.wait_for_ready(timeout=60)
            msg_id = client.execute("print('first cell')")
            texts = []
            while True:
                msg = await get_msg(timeout=30)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "stream":
                    texts.append(msg["content"]["text"])
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    break
        finally:
            client.stop_channels()
            await manager.shutdown_kernel()
        return waited, texts

    waited, texts = asyncio.run(scenario())
    assert [t for t in waited if t] == [], f"waited out IOPub timeouts: {waited}"
    assert texts == ["first cell\n"]


def test_longest_first_uses_the_first_map_that_knows_a_job_then_source_size(tmp_path):
    jobs = [job(tmp_path, name, "x = 1" * n) for name, n in
            [("a", 1), ("b", 1), ("c", 1), ("d", 50), ("e", 5)]]  # fmt: skip
    here = {"a": 3.0, "b": 40.0}
    machine = {"a": 99.0, "c": 10.0}  # the longest known time counts: 99 s for "a"
    order = [j.docname for j in execution.longest_first(
        jobs, here, machine, size=lambda j: len(j.notebook_json))]  # fmt: skip
    # unknown first, larger source first; then 99 s (a), 40 s (b), 10 s (c)
    assert order == ["d", "e", "a", "b", "c"]
    assert [j.docname for j in execution.longest_first(jobs)] == ["a", "b", "c", "d", "e"]


def test_machine_durations_merge_and_survive_a_damaged_file(tmp_path):
    assert execution.machine_durations(tmp_path) == {}
    execution.remember_durations({"book/a": 12.345}, tmp_path)
    execution.remember_durations({"book/b": 3.0}, tmp_path)
    assert execution.machine_durations(tmp_path) == {"book/a": 12.35, "book/b": 3.0}
    execution.remember_durations({"book/a": 7.0}, tmp_path)  # a run that hit a results cache
    assert execution.machine_durations(tmp_path)["book/a"] == 12.35  # the longer recent one
    for _ in range(execution.DURATIONS_KEPT):
        execution.remember_durations({"book/a": 7.0}, tmp_path)
    assert execution.machine_durations(tmp_path)["book/a"] == 7.0  # 12.35 is no longer recent
    (tmp_path / execution.DURATIONS_FILE).write_text("{not json", encoding="utf-8")
    assert execution.machine_durations(tmp_path) == {}
    execution.remember_durations({"book/c": 1.0}, tmp_path)  # rewrites a damaged record
    assert execution.machine_durations(tmp_path) == {"book/c": 1.0}
