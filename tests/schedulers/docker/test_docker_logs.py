"""Log lines of docker replicas: whole lines, streams, since/until, regex, follow."""

from __future__ import annotations

import threading
import time

import pytest
from docker_apps import shell_app

from torchrun_core.errors import InvalidInputError
from torchrun_core.runner import Runner
from torchrun_core.scheduler import Stream
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.docker


def test_follow_reads_lines_as_they_come_until_the_app_ends(runner: Runner) -> None:
    script = "for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done"
    handle = runner.run(shell_app(script), "docker")
    seen: list[tuple[float, str]] = []
    # Read from the start, while the app runs; the iterator ends with the app.
    for line in runner.log_lines(handle, should_tail=True):
        seen.append((time.monotonic(), line))
    assert [line for _, line in seen] == [f"line {i}\n" for i in range(1, 6)]
    assert runner.status(handle).state is AppState.SUCCEEDED
    # Lines came while it ran: the first well before the last (not all at the end).
    assert seen[-1][0] - seen[0][0] > 0.4


def test_follow_started_before_the_replica_runs_still_gets_everything(runner: Runner) -> None:
    handle = runner.run(shell_app("sleep 0.5; echo late; echo done"), "docker")
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(runner.log_lines(handle, should_tail=True))
    )
    reader.start()
    reader.join(timeout=60)
    assert not reader.is_alive()
    assert lines == ["late\n", "done\n"]


def test_streams_regex_and_whole_long_lines(runner: Runner) -> None:
    # A 40000-character line: the daemon logs it in 16 KiB pieces.
    script = "echo out1; echo err1 >&2; printf '%040000d\\n' 7; echo out2; echo err2 >&2"
    handle = runner.run(shell_app(script), "docker")
    assert runner.wait(handle, timeout=60).state is AppState.SUCCEEDED
    out = list(runner.log_lines(handle, streams=Stream.STDOUT))
    assert [line[:10] for line in out] == ["out1\n", "0" * 10, "out2\n"]
    assert len(out[1]) == 40001 and out[1].endswith("7\n")
    assert list(runner.log_lines(handle, streams=Stream.STDERR)) == ["err1\n", "err2\n"]
    # Both streams, each in order (docker reads the two pipes apart, so their
    # interleaving is only as exact as its timestamps).
    combined = [line for line in runner.log_lines(handle) if len(line) < 100]
    assert sorted(combined) == ["err1\n", "err2\n", "out1\n", "out2\n"]
    assert combined.index("out1\n") < combined.index("out2\n")
    assert combined.index("err1\n") < combined.index("err2\n")
    assert list(runner.log_lines(handle, regex="^err")) == ["err1\n", "err2\n"]


def test_since_and_until_select_by_time(runner: Runner) -> None:
    handle = runner.run(shell_app("echo early; sleep 1.5; echo late"), "docker")
    start = time.time()
    assert runner.wait(handle, timeout=60).state is AppState.SUCCEEDED
    middle = start + 0.9  # after "early" (logged soon after start), before "late"
    assert list(runner.log_lines(handle, since=middle)) == ["late\n"]
    assert list(runner.log_lines(handle, until=middle)) == ["early\n"]


def test_bad_role_or_replica_is_refused_at_once(runner: Runner) -> None:
    handle = runner.run(shell_app("true"), "docker")
    with pytest.raises(InvalidInputError, match="no role 'nope'; roles: main"):
        runner.log_lines(handle, "nope")
    with pytest.raises(InvalidInputError, match="has no replica 3"):
        runner.log_lines(handle, "main", 3)


def test_a_long_line_stays_whole_when_the_other_stream_logs_between_its_pieces(
    runner: Runner,
) -> None:
    # 20000 characters without a newline: the daemon logs a 16 KiB piece at once and
    # keeps the rest until the newline, so stderr's line is logged between the pieces.
    script = "printf '%020000d' 0; sleep 0.5; echo mid >&2; sleep 0.5; echo end"
    handle = runner.run(shell_app(script), "docker")
    assert runner.wait(handle, timeout=60).state is AppState.SUCCEEDED
    combined = list(runner.log_lines(handle))
    assert sorted(len(line) for line in combined) == [4, 20004]
    assert "mid\n" in combined
    assert next(line for line in combined if len(line) > 4) == "0" * 20000 + "end\n"
