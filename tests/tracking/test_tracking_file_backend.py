"""The file backend and its reader: round trip, concurrent writer processes, damaged files."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from torchrun_core.tracking import AppRun, RunContext
from torchrun_core.tracking.file_backend import FileBackend
from torchrun_core.tracking.file_layout import run_dir
from torchrun_core.tracking.file_reader import read_progress, read_records, read_run

HANDLE = "local://default/app-1"


def file_run(root: Path, role: str = "trainer", replica: str = "0") -> AppRun:
    backend = FileBackend(str(root))
    context = RunContext(HANDLE, "local://default/parent", role, replica, "host", os.getpid())
    return AppRun(context, [("file", backend)])


def test_everything_logged_reads_back(tmp_path: Path) -> None:
    with file_run(tmp_path) as run:
        run.log_params({"lr": 0.1, "layers": 4})
        for step in range(10):
            run.log_metric("loss", 1 / (step + 1), step=step)
        run.log_metrics({"acc": 0.75, 'weird "tag"\n': math.nan}, step=9)
        run.log_metric("inf", math.inf)
        run.report_progress("train", 3, 10, "epochs")
        run.report_progress("train", 4, 10, "epochs")
        run.log_checkpoint(tmp_path / "ck-5", step=5, complete=False)
        run.log_checkpoint(tmp_path / "ck-9", step=9, metadata={"bytes": 12})
        run.log_checkpoint(tmp_path / "ck-5", step=5)  # marked complete later
        run.log_checkpoint(tmp_path / "ck-7", step=7, complete=False)  # never finished
        run.log_artifact("model", "/out/model.bin", metadata={"format": "pt"})
        run.add_source("local://default/prep", kind="run")
    data = read_run(tmp_path, HANDLE)
    loss = [p for p in data.metrics if p.tag == "loss"]
    assert [(p.step, p.value) for p in loss] == [(s, 1 / (s + 1)) for s in range(10)]
    assert {p.source for p in data.metrics} == {"trainer/0"}
    weird = next(p for p in data.metrics if p.tag.startswith("weird"))
    assert weird.tag == 'weird "tag"\n' and math.isnan(weird.value)
    assert next(p for p in data.metrics if p.tag == "inf").value == math.inf
    assert [(p.value, p.final_value, p.units) for p in data.progress] == [
        (3, 10, "epochs"),
        (4, 10, "epochs"),
    ]
    assert [(c.step, c.complete) for c in data.checkpoints] == [(5, True), (7, False), (9, True)]
    assert data.checkpoints[2].metadata == {"bytes": 12}
    assert data.params == {"lr": 0.1, "layers": 4}
    assert data.sources == [{"source": "local://default/prep", "kind": "run"}]
    assert data.artifacts[0]["name"] == "model" and data.artifacts[0]["path"] == "/out/model.bin"
    assert data.parent_run_id == "local://default/parent"
    latest = read_progress(tmp_path, HANDLE)
    assert [(p.tag, p.value) for p in latest] == [("train", 4)]


WRITER = """
import os, sys
from torchrun_core.tracking import AppRun, RunContext
from torchrun_core.tracking.file_backend import FileBackend

root, replica, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
context = RunContext("local://default/app-1", None, "w", replica, "host", os.getpid())
with AppRun(context, [("file", FileBackend(root))]) as run:
    for step in range(n):
        run.log_metric("loss/" + "x" * (step % 50), step * 0.5, step=step)
        if step % 997 == 0:
            run.report_progress("train", step, n, "steps")
"""


def test_concurrent_writer_processes_lose_and_interleave_nothing(tmp_path: Path) -> None:
    n, writers = 20_000, 4
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(k), str(n)])
        for k in range(writers)
    ]
    assert [p.wait(timeout=100) for p in procs] == [0] * writers
    data = read_run(tmp_path, HANDLE)
    assert len(data.metrics) == n * writers
    for k in range(writers):
        mine = sorted((p.step or 0, p.tag, p.value) for p in data.metrics if p.source == f"w/{k}")
        expected = [(s, "loss/" + "x" * (s % 50), s * 0.5) for s in range(n)]
        assert mine == expected
    files = list(run_dir(tmp_path, HANDLE).iterdir())
    assert len(files) == writers  # one file per process: no writer shares one
    for path in files:
        assert path.read_bytes().endswith(b"\n")


def test_partial_and_damaged_lines_are_skipped(tmp_path: Path) -> None:
    with file_run(tmp_path) as run:
        run.log_metric("a", 1.0, step=0)
    path = next(run_dir(tmp_path, HANDLE).iterdir())
    with path.open("a") as f:
        f.write("this is not json\n")
        f.write('{"t":"m","k":"a","v":2.0,"s":1,"w":1.0}\n')
        f.write('{"t":"m","k":"a"}\n')  # a record missing its fields
        f.write('{"t":"m","k":"a","v":3.0,"s":2')  # being written: no newline yet
    assert [r["t"] for r in read_records(path)] == ["r", "m", "m", "m"]
    assert [p.value for p in read_run(tmp_path, HANDLE).metrics] == [1.0, 2.0]


def test_unbuffered_records_reach_the_file_at_once_and_metrics_on_flush(tmp_path: Path) -> None:
    run = file_run(tmp_path)
    run.log_metric("a", 1.0)
    run.report_progress("p", 1)  # written at once (and what was buffered before it)
    assert len(read_run(tmp_path, HANDLE).progress) == 1
    run.log_metric("b", 2.0)
    run.flush()
    assert {p.tag for p in read_run(tmp_path, HANDLE).metrics} == {"a", "b"}
    run.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_writes_its_own_file(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import os
        from torchrun_core.tracking import AppRun, RunContext
        from torchrun_core.tracking.file_backend import FileBackend
        ctx = RunContext({HANDLE!r}, None, "r", "0", "h", os.getpid())
        run = AppRun(ctx, [("file", FileBackend({str(tmp_path)!r}))])
        run.log_metric("parent-before", 1.0)
        pid = os.fork()
        if pid == 0:
            run.log_metric("child", 2.0)
            run.close()
            os._exit(0)
        os.waitpid(pid, 0)
        run.log_metric("parent-after", 3.0)
        run.close()
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    tags = sorted(p.tag for p in read_run(tmp_path, HANDLE).metrics)
    assert tags == ["child", "parent-after", "parent-before"]  # nothing twice
    assert len(list(run_dir(tmp_path, HANDLE).iterdir())) == 2


def test_an_unwritable_root_only_warns(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    from torchrun_core.tracking import TrackingWarning

    with pytest.warns(TrackingWarning, match="'file' failed in start"):
        run = file_run(blocker / "root")
    assert not run.enabled
    run.log_metric("a", 1.0)
    run.close()
