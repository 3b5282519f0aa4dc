"""A followed pod log goes on after its stream is cut (an API server restart): each line once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from torchrun_core.schedulers.kubernetes.follow import followed_lines, stamp_ns


class _Response:
    def __init__(self, chunks: list[bytes], cut: bool) -> None:
        self.chunks, self.cut = chunks, cut

    def stream(self, size: int) -> Iterator[bytes]:
        from urllib3.exceptions import ProtocolError

        yield from self.chunks
        if self.cut:
            raise ProtocolError("Connection broken: IncompleteRead(0 bytes read)")

    def release_conn(self) -> None:
        pass


class _Core:
    """A pod whose log stream is cut twice (once mid-line), then ends with the container."""

    def __init__(self) -> None:
        self.opened = 0
        log = [
            b"2026-12-07T00:00:01.5Z one\n",
            b"2026-12-07T00:00:02Z two\n2026-12-07T00:00:03Z th",
            b"ree\n2026-12-07T00:00:04.000000001Z last, no newline",
        ]
        self.answers = [
            _Response(log[:2], cut=True),  # cut in the middle of "three"
            _Response(log[:1], cut=False),  # ended early (a server shutting down)
            _Response(log, cut=False),
        ]

    def read_namespaced_pod_log(self, name: str, namespace: str, **kw: Any) -> _Response:
        self.opened += 1
        return self.answers.pop(0)

    def read_namespaced_pod(self, name: str, namespace: str, **kw: Any) -> Any:
        state = {"running": {}} if self.answers else {"terminated": {"exitCode": 0}}
        body = {"status": {"phase": "Running", "containerStatuses": [{"state": state}]}}
        return type("R", (), {"data": json.dumps(body).encode()})()


def test_lines_are_given_once_across_cut_streams() -> None:
    core = _Core()
    lines = list(followed_lines(core, "default", "p"))
    assert [line.partition(" ")[2] for line in lines] == [
        "one\n", "two\n", "three\n", "last, no newline\n",
    ]  # fmt: skip
    assert core.opened == 3


def test_stamps_are_nanoseconds() -> None:
    assert stamp_ns("2026-12-07T00:00:01.5Z x") == stamp_ns("2026-12-07T00:00:01Z x") + 500_000_000
    assert stamp_ns("2026-12-07T00:00:01.000000001Z x") == 1796601601_000_000_001
    assert stamp_ns("no stamp") is None
