"""On the real cluster: the file tracker writes in the job dir; a failed replica's sibling reads
stopped."""

from __future__ import annotations

from pathlib import Path

import pytest

import torchrun_core
from torchrun_core.runner import Runner
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.slurm

# The nodes run the host's python3 with this source tree on PYTHONPATH (readable by the
# cluster's user): the job reports through the file tracker's own backend.
JOB = """\
import os, socket
from torchrun_core.tracking.file_backend import FileBackend
from torchrun_core.tracking.records import RunContext
backend = FileBackend(os.environ["TORCHRUN_CORE_TRACKER_FILE_CONFIG"])
backend.start(RunContext(os.environ["TORCHRUN_CORE_APP_HANDLE"], None, "main", "0",
                         socket.gethostname(), os.getpid()))
backend.report_progress("train", 3, 10, "steps", 1.0)
backend.close()
print(os.environ["TORCHRUN_CORE_TRACKER_FILE_CONFIG"])
print(os.environ["TORCHRUN_CORE_JOB_DIR"])
print(backend.path)
"""


def test_the_file_tracker_writes_in_the_job_dir(runner: Runner) -> None:
    source = str(Path(torchrun_core.__file__).resolve().parents[1])
    role = Role(name="main", image="", entrypoint="python3", args=["-c", JOB],
                env={"PYTHONPATH": source})  # fmt: skip
    handle = runner.run(AppDef(name="track", roles=[role]), "slurm")
    status = runner.wait(handle, timeout=60)
    lines = [line.rstrip("\n") for line in runner.log_lines(handle)]
    assert status.state is AppState.SUCCEEDED, lines
    config, job_dir, written = lines
    assert config == "${TORCHRUN_CORE_JOB_DIR}/tracking"  # as injected, expanded by the job
    assert written.startswith(f"{job_dir}/tracking/slurm/")
    assert runner.metrics(handle) == []  # on the cluster, not here


def test_the_sibling_of_a_failed_replica_reads_stopped(runner: Runner) -> None:
    script = 'if [ "$SLURM_PROCID" = 1 ]; then exit 3; fi; sleep 60'
    role = Role(name="sh", image="", entrypoint="/bin/sh", args=["-c", script], num_replicas=2)
    handle = runner.run(AppDef(name="sib", roles=[role]), "slurm")
    status = runner.wait(handle, timeout=60)
    assert status.state is AppState.FAILED
    assert status.replica("sh", 0).state is AppState.CANCELLED
    assert status.failure_summary() == "sh/1 exited with 3; sh/0 was stopped after sh/1 failed"
