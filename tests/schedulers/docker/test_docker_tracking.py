"""The ``file`` tracker of a docker job writes where ``metrics`` reads: its root is bind-mounted."""

from __future__ import annotations

from pathlib import Path

import pytest
from docker_apps import PYTHON

import torchrun_core
from torchrun_core.runner import Runner
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.mounts import BindMount
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.docker

# The image has Python but not torchrun_core: the tests' source tree is mounted
# read-only at /src, and the job reports through the file tracker's own backend.
JOB = """\
import os, socket
from torchrun_core.tracking.file_backend import FileBackend
from torchrun_core.tracking.records import RunContext
root = os.environ["TORCHRUN_CORE_TRACKER_FILE_CONFIG"]
print("root", root, os.path.isdir(root), flush=True)
backend = FileBackend(root)
backend.start(RunContext(os.environ["TORCHRUN_CORE_APP_HANDLE"], None, "main", "0",
                         socket.gethostname(), os.getpid()))
backend.report_progress("train", 3, 10, "steps", 1.0)  # written at once: no flusher thread
os._exit(0)  # the image's minimal libc cannot end threads; nothing is left to flush
"""


def test_a_container_reports_metrics_that_the_launcher_reads(
    runner: Runner, state_dir: Path
) -> None:
    source = str(Path(torchrun_core.__file__).resolve().parents[1])
    role = Role(
        name="main",
        image=PYTHON,
        entrypoint="python3",
        args=["-c", JOB],
        env={"PYTHONPATH": "/src"},
        mounts=[BindMount(src_path=source, dst_path="/src", read_only=True)],
    )
    handle = runner.run(AppDef(name="track", roles=[role]), "docker")
    status = runner.wait(handle, timeout=90)
    logs = "".join(runner.log_lines(handle))
    assert status.state is AppState.SUCCEEDED, logs
    # The env the job saw: this machine's root, which exists in the container.
    assert logs.splitlines()[0] == f"root {state_dir / 'tracking'} True"
    [point] = runner.progress(handle)
    assert (point.tag, point.value, point.final_value) == ("train", 3, 10)
