"""Logs of local replicas: whole lines, streams, combined order, since/until, tailing."""

from __future__ import annotations

import stat
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from local_apps import app_of, py_role, wait_for

from torchrun_core.errors import AppNotFoundError, InvalidInputError
from torchrun_core.scheduler import Stream
from torchrun_core.schedulers.local import LocalScheduler
from torchrun_core.schedulers.local.logs import CUT_MARK, MAX_PARTIAL_LINE
from torchrun_core.specs.state import AppState

# Writes "abc", waits, then "def\n" (a line written in two parts), a few times,
# and ends with a line without newline.
SLOW_PARTIAL = textwrap.dedent(
    """
    import sys, time
    for i in range(4):
        sys.stdout.write(f"abc{i}"); sys.stdout.flush()
        time.sleep(0.15)
        sys.stdout.write(f"def{i}\\n"); sys.stdout.flush()
    sys.stdout.write("no newline"); sys.stdout.flush()
    """
)
EXPECTED_SLOW = [f"abc{i}def{i}\n" for i in range(4)] + ["no newline"]


def schedule(sched: LocalScheduler, code: str, **fields: Any) -> str:
    return sched.schedule(sched.dryrun(app_of(py_role(code, **fields))))


def test_reading_while_writing_never_splits_a_line(sched: LocalScheduler) -> None:
    app_id = schedule(sched, SLOW_PARTIAL)
    seen: list[list[str]] = []
    while not sched.describe(app_id).is_terminal:  # type: ignore[union-attr]
        snapshot = list(sched.log_iter(app_id, "r", 0, streams=Stream.STDOUT))
        # Only a replica that has finished may end with a line lacking its newline,
        # so keep the snapshots taken entirely while the replica was still running.
        status = sched.describe(app_id)
        assert status is not None
        if not status.replica("r", 0).state.is_terminal:
            seen.append(snapshot)
        time.sleep(0.02)
    for snapshot in seen:  # a prefix of the full output, every line whole
        assert snapshot == EXPECTED_SLOW[: len(snapshot)]
        assert all(line.endswith("\n") for line in snapshot)
    assert any(seen), "the reader never caught the app running"
    for stream in (Stream.STDOUT, Stream.COMBINED):
        assert list(sched.log_iter(app_id, "r", 0, streams=stream)) == EXPECTED_SLOW
    assert list(sched.log_iter(app_id, "r", 0, streams=Stream.STDERR)) == []


def test_tail_follows_until_the_end(sched: LocalScheduler) -> None:
    app_id = schedule(sched, SLOW_PARTIAL)
    for stream in (Stream.COMBINED, Stream.STDOUT):
        # Starts while the app runs, and stops by itself once it is over.
        assert (
            list(sched.log_iter(app_id, "r", 0, should_tail=True, streams=stream)) == EXPECTED_SLOW
        )
    assert sched.describe(app_id).state is AppState.SUCCEEDED  # type: ignore[union-attr]


def test_tail_follows_retries(sched: LocalScheduler) -> None:
    code = (
        "import os, sys, time; time.sleep(0.2); a = os.environ['TORCHRUN_CORE_ATTEMPT']; "
        "print('attempt', a); sys.exit(0 if a == '2' else 1)"
    )
    app_id = schedule(sched, code, max_retries=2, retry_policy="REPLICA")
    got = list(sched.log_iter(app_id, "r", 0, should_tail=True))
    assert got == ["attempt 0\n", "attempt 1\n", "attempt 2\n"]
    assert list(sched.log_iter(app_id, "r", 0, should_tail=True, attempt=1)) == ["attempt 1\n"]


def test_combined_interleaves_whole_lines_in_order(sched: LocalScheduler) -> None:
    code = textwrap.dedent(
        """
        import sys, time
        def out(s): sys.stdout.write(s); sys.stdout.flush(); time.sleep(0.05)
        def err(s): sys.stderr.write(s); sys.stderr.flush(); time.sleep(0.05)
        out("o1\\n"); err("e1\\n"); out("o2\\n"); err("e2\\n")
        out("par"); err("e3\\n"); out("tial\\n")
        out("x"); err("y")
        """
    )
    app_id = schedule(sched, code)
    wait_for(sched, app_id)
    combined = list(sched.log_iter(app_id, "r", 0))
    assert combined == ["o1\n", "e1\n", "o2\n", "e2\n", "e3\n", "partial\n", "x\n", "y"]
    assert list(sched.log_iter(app_id, "r", 0, streams=Stream.STDOUT)) == [
        "o1\n",
        "o2\n",
        "partial\n",
        "x",
    ]
    assert list(sched.log_iter(app_id, "r", 0, streams=Stream.STDERR)) == [
        "e1\n",
        "e2\n",
        "e3\n",
        "y",
    ]


def test_since_and_until(sched: LocalScheduler) -> None:
    code = textwrap.dedent(
        """
        import sys, time
        print("early", time.time(), flush=True)
        sys.stdout.write("sta"); sys.stdout.flush()
        time.sleep(0.4)
        print("rted", flush=True)
        print("late", time.time(), flush=True)
        """
    )
    app_id = schedule(sched, code)
    wait_for(sched, app_id)
    everything = list(sched.log_iter(app_id, "r", 0))
    assert [line.split()[0] for line in everything] == ["early", "started", "late"]
    middle = float(everything[0].split()[1]) + 0.2
    # In the combined log a line is stamped when it is complete...
    assert [x.split()[0] for x in sched.log_iter(app_id, "r", 0, since=middle)] == [
        "started",
        "late",
    ]
    assert [x.split()[0] for x in sched.log_iter(app_id, "r", 0, until=middle)] == ["early"]
    # ...in stdout when its first byte came: "sta" was written before `middle`.
    out = Stream.STDOUT
    assert [x.split()[0] for x in sched.log_iter(app_id, "r", 0, since=middle, streams=out)] == [
        "late"
    ]
    assert [x.split()[0] for x in sched.log_iter(app_id, "r", 0, until=middle, streams=out)] == [
        "early",
        "started",
    ]
    assert list(sched.log_iter(app_id, "r", 0, since=time.time() + 60)) == []
    assert list(sched.log_iter(app_id, "r", 0, until=0.0)) == []
    assert list(sched.log_iter(app_id, "r", 0, since=0.0, until=time.time() + 60)) == everything


def test_regex_filters_lines(sched: LocalScheduler) -> None:
    app_id = schedule(sched, "print('keep 1'); print('drop'); print('keep 2')")
    wait_for(sched, app_id)
    assert list(sched.log_iter(app_id, "r", 0, regex="^keep")) == ["keep 1\n", "keep 2\n"]
    with pytest.raises(InvalidInputError):
        sched.log_iter(app_id, "r", 0, regex="(")


def test_unknown_role_or_replica_names_the_valid_ones(sched: LocalScheduler) -> None:
    app_id = schedule(sched, "pass", num_replicas=2)
    with pytest.raises(InvalidInputError, match="roles: r"):
        sched.log_iter(app_id, "nope", 0)
    with pytest.raises(InvalidInputError, match=r"replicas: 0\.\.1"):
        sched.log_iter(app_id, "r", 2)
    with pytest.raises(AppNotFoundError):
        sched.log_iter("t-unknown0", "r", 0)


def test_many_lines_written_in_odd_chunks_are_read_whole(sched: LocalScheduler) -> None:
    code = textwrap.dedent(
        """
        import os, random
        rng = random.Random(7)
        text = "".join(f"line {i} " + "x" * rng.randrange(0, 300) + "\\n" for i in range(20000))
        data, pos = text.encode(), 0
        while pos < len(data):
            n = rng.randrange(1, 9000)
            os.write(1, data[pos:pos + n]); pos += n
        """
    )
    app_id = schedule(sched, code)
    tailed: list[str] = []
    reader = threading.Thread(
        target=lambda: tailed.extend(sched.log_iter(app_id, "r", 0, should_tail=True))
    )
    reader.start()
    reader.join(60)
    assert not reader.is_alive()
    finished = list(sched.log_iter(app_id, "r", 0))
    assert len(finished) == 20000 and tailed == finished
    assert all(
        line.startswith(f"line {i} ") and line.endswith("\n") for i, line in enumerate(finished)
    )


def test_invalid_utf8_is_replaced(sched: LocalScheduler) -> None:
    app_id = schedule(sched, "import os; os.write(1, b'ok \\xff\\xfe bytes\\n')")
    wait_for(sched, app_id)
    assert list(sched.log_iter(app_id, "r", 0)) == ["ok \ufffd\ufffd bytes\n"]


def test_logs_of_a_replica_not_started_yet_are_empty(sched: LocalScheduler) -> None:
    app = app_of(
        py_role("import sys; sys.exit(1)", name="bad"),
        py_role("import time; time.sleep(30)", name="ok"),
    )
    app_id = sched.schedule(sched.dryrun(app))
    status = wait_for(sched, app_id)
    assert status.state is AppState.FAILED
    assert list(sched.log_iter(app_id, "ok", 0)) == []


def test_a_line_over_4_mib_is_whole_in_its_stream_and_marked_where_combined_cuts_it(
    sched: LocalScheduler,
) -> None:
    size = MAX_PARTIAL_LINE + (1 << 20)
    app_id = schedule(sched, f"import sys; sys.stdout.write('x' * {size} + '\\nnext\\n')")
    wait_for(sched, app_id)
    whole = "x" * size + "\n"
    assert list(sched.log_iter(app_id, "r", 0, streams=Stream.STDOUT)) == [whole, "next\n"]
    combined = list(sched.log_iter(app_id, "r", 0))
    # The supervisor holds at most 4 MiB of an unended line: the cut is marked, nothing is lost.
    mark = CUT_MARK.decode()
    assert len(combined) == 3 and combined[0].endswith(mark), [len(x) for x in combined]
    assert combined[0].removesuffix(mark) + combined[1] == whole
    assert combined[2] == "next\n"


def test_logs_in_a_log_dir_are_owner_only(sched: LocalScheduler, tmp_path: Path) -> None:
    logs = tmp_path / "shared" / "logs"  # neither exists yet
    app = app_of(py_role("print('secret token')"))
    app_id = sched.schedule(sched.dryrun(app, {"log_dir": str(logs)}))
    wait_for(sched, app_id)
    made = [logs, *sorted(logs.rglob("*"))]
    assert any(p.suffix == ".stdout" for p in made)
    for path in made:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {mode:o}"
