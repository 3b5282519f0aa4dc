"""`torchrun-core list` filters and paging, and `torchrun-core events`, as real processes."""

from __future__ import annotations

import json
import re

from torchrun_core.runstore import RunStore
from torchrun_core.specs.state import AppState

from .cli_process import CliRunner, error_lines

S = AppState
CURSOR_RE = re.compile(r"^next page: --cursor (\S+)$", re.MULTILINE)


def fill(count: int = 12) -> list[str]:
    """``count`` finished local runs named by their number's parity; handles oldest first."""
    store = RunStore()
    handles = []
    for i in range(count):
        handle = f"local://default/run-{i:02d}"
        store.add_run(
            handle, scheduler="local", session="default", app_id=f"run-{i:02d}",
            app_name="Even_Run" if i % 2 == 0 else "odd%run", app_json=None,
            created_at=1000.0 + i, state=S.SUCCEEDED if i % 3 else S.FAILED,
            parent_run_id="local://default/run-00" if i > 8 else None,
        )  # fmt: skip
        handles.append(handle)
    store.close()
    return handles


def listed(cli: CliRunner, *args: str) -> tuple[list[str], str | None]:
    proc = cli("list", "--json", *args)
    assert proc.returncode == 0, proc.stderr
    found = CURSOR_RE.search(proc.stderr)
    return [r["handle"] for r in json.loads(proc.stdout)], found.group(1) if found else None


def test_list_filters_combine(cli: CliRunner) -> None:
    handles = fill()
    got, _ = listed(cli, "--name", "even\\_%", "--state", "succeeded,RUNNING")
    assert got == [handles[i] for i in (10, 8, 4, 2)]
    got, _ = listed(cli, "--name", "ODD\\%RUN", "--state", "FAILED", "--state", "PENDING")
    assert got == [handles[i] for i in (9, 3)]
    got, _ = listed(cli, "--parent", handles[0], "--sort", "oldest")
    assert got == handles[9:]
    got, _ = listed(cli, "--created-after", "1003", "--created-before", "1005")
    assert got == [handles[4], handles[3]]
    got, _ = listed(cli, "--since", "1003", "--until", "1005", "-s", "docker")
    assert got == []
    got, _ = listed(cli, "--sort", "name", "--limit", "0")
    assert got == [handles[i] for i in range(0, 12, 2)] + [handles[i] for i in range(1, 12, 2)]


def test_list_pages_with_the_printed_cursor(cli: CliRunner) -> None:
    handles = fill()
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        got, cursor = listed(cli, "--limit", "5", *(["--cursor", cursor] if cursor else []))
        seen += got
        pages += 1
        if cursor is None:
            break
    assert seen == handles[::-1] and pages == 3
    text = cli("list", "--limit", "5")
    assert text.returncode == 0 and len(text.stdout.splitlines()) == 6  # header + 5 rows
    assert CURSOR_RE.search(text.stderr)


def test_bad_list_input_is_one_error_line_and_exit_2(cli: CliRunner) -> None:
    fill(3)
    for args in (
        ["--cursor", "bm90IGEgY3Vyc29y"],
        ["--limit", "-3"],
        ["--name", "abc\\"],
        ["--parent", "not-a-handle"],
        ["--state", "RUNNING,NOPE"],
        ["--since", "yesterday-ish"],
    ):
        proc = cli("list", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(error_lines(proc.stderr)) == 1, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stdout == ""
    _, cursor = listed(cli, "--limit", "1", "--sort", "oldest")
    assert cursor is not None
    proc = cli("list", "--cursor", cursor)  # printed for --sort oldest
    assert proc.returncode == 2 and "--sort oldest" in proc.stderr


def test_events_prints_sequence_numbers(cli: CliRunner) -> None:
    store = RunStore()
    store.add_run(
        "local://default/ev-1", scheduler="local", session="default", app_id="ev-1",
        app_name="ev", app_json=None, state=S.RUNNING,
    )  # fmt: skip
    store.record_state("local://default/ev-1", S.FAILED, "exit 3")
    proc = cli("events", "local://default/ev-1", "--json")
    assert proc.returncode == 0, proc.stderr
    events = json.loads(proc.stdout)
    assert [e["state"] for e in events] == ["RUNNING", "FAILED"]
    assert events[0]["seq"] < events[1]["seq"] and events[1]["message"] == "exit 3"
    text = cli("events", "local://default/ev-1", "--after", str(events[0]["seq"]))
    rows = text.stdout.splitlines()
    assert rows[0].split() == ["SEQ", "AT", "STATE", "MESSAGE"] and len(rows) == 2
    assert rows[1].startswith(str(events[1]["seq"])) and rows[1].endswith("FAILED  exit 3")
    missing = cli("events", "local://default/nope")
    assert missing.returncode == 2 and len(error_lines(missing.stderr)) == 1


def test_events_follow_until_the_app_ends(cli: CliRunner) -> None:
    code = "import time; time.sleep(1)"
    run = cli("run", "--scheduler", "local", "utils.python", "-c", code)
    assert run.returncode == 0, run.stderr
    handle = run.stdout.split()[-1]
    proc = cli("events", "--follow", "--json", handle, timeout=60)
    assert proc.returncode == 0, proc.stderr
    states = [json.loads(line)["state"] for line in proc.stdout.splitlines()]
    assert states[0] == "SUBMITTED" and states[-1] == "SUCCEEDED"
    seqs = [json.loads(line)["seq"] for line in proc.stdout.splitlines()]
    assert seqs == sorted(set(seqs))


def test_events_follow_gives_up_at_the_timeout(cli: CliRunner) -> None:
    run = cli("run", "--scheduler", "local", "utils.sh", "sleep 30")
    assert run.returncode == 0, run.stderr
    handle = run.stdout.split()[-1]
    try:
        proc = cli("events", "-f", "--timeout", "0.5", handle, timeout=60)
        assert proc.returncode == 1 and len(error_lines(proc.stderr)) == 1
        assert proc.stdout.splitlines()[0].split() == ["SEQ", "AT", "STATE", "MESSAGE"]
    finally:
        cli("cancel", handle)
