"""run --wait's printing: it ends when wait decides, and every line up to then is printed once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from torchrun_core.cli.log_stream import ReplicaRef
from torchrun_core.cli.run_follow import wait_printing
from torchrun_core.errors import InvalidInputError
from torchrun_core.specs.state import AppState
from torchrun_core.specs.status import AppStatus, ReplicaStatus, RoleStatus

HANDLE = "fake://s/app"


class FakeRunner:
    """Replica 1 fails; replica 0 is a sibling being stopped whose follower never ends.

    Replica 0's follower yields its first ``shown`` lines, then blocks (it lags
    behind); the one-off read has them all.
    """

    def __init__(self, lines: dict[int, list[str]], shown: int, gone: bool = False) -> None:
        self.lines = lines
        self.shown = shown
        self.gone = gone  # the stopped sibling's log is gone by the end
        self.stuck = threading.Event()  # never set: the sibling's follower blocks for good

    def log_lines(self, handle: str, role: str, k: int, should_tail: bool = False) -> Iterator[str]:
        if should_tail:
            return self._follow(k)
        if self.gone and k == 0:
            raise InvalidInputError(f"app {handle}: no pod for role {role!r} replica {k}")
        return iter(self.lines[k])

    def _follow(self, k: int) -> Iterator[str]:
        if k == 1:
            yield from self.lines[k]
            return
        yield from self.lines[k][: self.shown]
        self.stuck.wait()

    def wait(self, handle: str) -> AppStatus:
        replicas = [
            ReplicaStatus(id=0, role="sh", state=AppState.CANCELLED),
            ReplicaStatus(id=1, role="sh", state=AppState.FAILED, exit_code=3),
        ]
        return AppStatus(state=AppState.FAILED, roles=[RoleStatus(role="sh", replicas=replicas)])


REFS = [ReplicaRef("sh", 0), ReplicaRef("sh", 1)]


def _by_replica(out: str) -> dict[str, list[str]]:
    got: dict[str, list[str]] = {"sh/0": [], "sh/1": []}
    for line in out.splitlines():
        prefix, _, text = line.partition(" ")
        got[prefix].append(text)
    return got


def test_ends_without_the_stopped_sibling_and_prints_every_line_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = {k: [f"{k}-{i}\n" for i in range(500)] + [f"{k}-last-without-newline"] for k in (0, 1)}
    runner: Any = FakeRunner(lines, shown=200)
    status = wait_printing(runner, HANDLE, REFS)  # would hang on replica 0's follower
    assert status.state is AppState.FAILED
    got = _by_replica(capsys.readouterr().out)
    for k in (0, 1):
        assert got[f"sh/{k}"] == [line.rstrip("\n") for line in lines[k]]


def test_a_stopped_sibling_already_gone_is_no_warning(capsys: pytest.CaptureFixture[str]) -> None:
    lines = {k: [f"{k}-{i}\n" for i in range(5)] for k in (0, 1)}
    runner: Any = FakeRunner(lines, shown=2, gone=True)
    wait_printing(runner, HANDLE, REFS)
    out, err = capsys.readouterr()
    got = _by_replica(out)
    assert got["sh/0"] == ["0-0", "0-1"]  # what its follower saw before the end
    assert got["sh/1"] == [f"1-{i}" for i in range(5)]
    assert err == ""
