"""A real distributed PyTorch job: ``dist.ddp`` on the local scheduler, no mocks.

``examples/ddp_allreduce.py`` runs under torchrun with the gloo backend: every
rank all-reduces ``rank + 1`` and prints ``rank=R world_size=W ...
allreduce=S``. The test reads those lines back through ``Runner.log_lines``
for each replica (node) and checks the ranks, the world size and the sum.

``test_ranks_lines_stay_whole_and_say_their_rank`` runs a script whose two
ranks print many lines at once, unbuffered, and checks that every line comes
back whole behind its rank's prefix.

It needs the CPU build of PyTorch, which ``scripts/test.sh`` installs
(``pip install torch==2.13.0``). Without it the test skips, and under
``CI=true`` fails.
"""

from __future__ import annotations

import importlib.util
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from ci_rules import require_installed

from torchrun_core.runner import Runner
from torchrun_core.scheduler import Stream
from torchrun_core.specs.state import AppState

TRAIN_SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "ddp_allreduce.py"
RANK_LINE = re.compile(
    r"rank=(?P<rank>\d+) world_size=(?P<world>\d+) local_rank=(?P<local>\d+) "
    r"allreduce=(?P<sum>\d+) params_in_sync=(?P<sync>\w+)"
)
JOB_TIMEOUT = 90  # seconds; a healthy job takes about 5-10 s on 2 cores

pytestmark = [pytest.mark.slow, pytest.mark.timeout(JOB_TIMEOUT + 20)]


@pytest.fixture
def torch_installed() -> None:
    """Skip (fail under CI) unless torch is importable; cheap: finds it without importing it."""
    require_installed(
        "torch",
        importlib.util.find_spec("torch") is not None,
        "run `pip install torch==2.13.0` (the CPU build on disk), or bash scripts/test.sh",
    )


@pytest.fixture
def runner() -> Iterator[Runner]:
    with Runner("dist") as made:
        yield made


def free_port() -> int:
    """A TCP port free on localhost now (the job binds it a few seconds later)."""
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        port: int = sock.getsockname()[1]
        return port


def run_ddp(runner: Runner, shape: str, nodes: int) -> list[dict[str, str]]:
    """Run the training script as ``dist.ddp -j shape``; the rank lines of every node."""
    args = ["-j", shape, "--script", str(TRAIN_SCRIPT), "--env", "OMP_NUM_THREADS=1"]
    args += ["--rdzv_port", str(free_port()), "--", "--timeout", "30"]
    handle = runner.run_component("dist.ddp", args, "local")
    try:
        status = runner.wait(handle, timeout=JOB_TIMEOUT)
        logs = {k: list(runner.log_lines(handle, k=k)) for k in range(nodes)}
        assert status.state is AppState.SUCCEEDED, (status, logs)
    finally:
        runner.cancel(handle)  # no-op when finished; never leaves workers behind
    rows = []
    for k, lines in logs.items():
        found = [m.groupdict() for line in lines if (m := RANK_LINE.search(line))]
        assert found, f"node {k} printed no rank line: {lines}"
        rows += [{**row, "node": str(k)} for row in found]
    return rows


def assert_all_reduced(rows: list[dict[str, str]], world_size: int) -> None:
    assert sorted(int(r["rank"]) for r in rows) == list(range(world_size))
    assert {int(r["world"]) for r in rows} == {world_size}
    assert {int(r["sum"]) for r in rows} == {world_size * (world_size + 1) // 2}
    assert {r["sync"] for r in rows} == {"True"}


@pytest.mark.usefixtures("torch_installed")
def test_ddp_one_node_two_processes(runner: Runner) -> None:
    rows = run_ddp(runner, "1x2", nodes=1)
    assert_all_reduced(rows, world_size=2)
    assert sorted(r["local"] for r in rows) == ["0", "1"]


@pytest.mark.usefixtures("torch_installed")
def test_ddp_two_nodes_one_process_each(runner: Runner) -> None:
    # Two replicas meet through rank 0's host, which the local scheduler sets to localhost.
    rows = run_ddp(runner, "2x1", nodes=2)
    assert_all_reduced(rows, world_size=2)
    assert sorted(r["node"] for r in rows) == ["0", "1"]  # one rank printed by each node
    assert {r["local"] for r in rows} == {"0"}


# Each rank prints LINES lines as fast as it can, unbuffered, then one line without a newline.
PRINTER = """
import os
rank = os.environ["RANK"]
for i in range({lines}):
    print(f"rank {{rank}} says {{i}}")
print(f"rank {{rank}} ends", end="")
"""
LINES = 3000


@pytest.mark.usefixtures("torch_installed")
def test_ranks_lines_stay_whole_and_say_their_rank(runner: Runner, tmp_path: Path) -> None:
    script = tmp_path / "printer.py"
    script.write_text(PRINTER.format(lines=LINES))
    args = ["-j", "1x2", "--script", str(script), "--rdzv_port", str(free_port())]
    args += ["--env", "PYTHONUNBUFFERED=1,OMP_NUM_THREADS=1"]
    handle = runner.run_component("dist.ddp", args, "local")
    try:
        status = runner.wait(handle, timeout=JOB_TIMEOUT)
        lines = [line.rstrip("\n") for line in runner.log_lines(handle, streams=Stream.STDOUT)]
        assert status.state is AppState.SUCCEEDED, (status, lines[-20:])
    finally:
        runner.cancel(handle)
    whole = re.compile(r"\[rank(?P<prefix>[01])\]:rank (?P<rank>[01]) (says (?P<i>\d+)|ends)")
    matches = [(line, whole.fullmatch(line)) for line in lines]
    broken = [line for line, m in matches if m is None or m["prefix"] != m["rank"]]
    assert not broken, broken[:5]
    for rank in "01":
        said = [int(m["i"]) for _, m in matches if m and m["rank"] == rank and m["i"]]
        assert said == list(range(LINES)), f"rank {rank}: lines lost or out of order"
