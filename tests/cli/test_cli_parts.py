"""Small parts of the CLI: times, log targets, --cfg, wait outcomes, tables, JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum

import pytest

from torchrun_core.cli.log import parse_target
from torchrun_core.cli.output import format_table, to_jsonable
from torchrun_core.cli.run import is_app_file, parse_cfg
from torchrun_core.cli.timespec import parse_time
from torchrun_core.cli.wait import reached
from torchrun_core.errors import InvalidInputError, MalformedHandleError
from torchrun_core.specs.state import AppState

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1700000000", 1_700_000_000.0),
        ("1700000000.25", 1_700_000_000.25),
        ("10s", NOW - 10),
        ("5m", NOW - 300),
        ("2h", NOW - 7200),
        ("1d", NOW - 86400),
        ("1h30m", NOW - 5400),
        ("250ms", NOW - 0.25),
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-14T22:13:20+00:00", 1_700_000_000.0),
    ],
)
def test_parse_time(text: str, expected: float) -> None:
    assert parse_time(text, now=NOW) == pytest.approx(expected)


def test_parse_time_naive_iso_is_local_time() -> None:
    assert parse_time("2024-05-01T12:00:00") == datetime(2024, 5, 1, 12).timestamp()
    aware = datetime(2024, 5, 1, 12, tzinfo=timezone.utc).timestamp()
    assert parse_time("2024-05-01T12:00:00z") == aware


@pytest.mark.parametrize("text", ["yesterday", "10x", "-5s", "", "1e9"])
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(InvalidInputError, match="cannot read time") as info:
        parse_time(text)
    assert info.value.hint and "ISO-8601" in info.value.hint


def test_parse_log_target() -> None:
    handle = "local://default/echo-1a2b"
    assert parse_target(handle) == (handle, None, None)
    assert parse_target(f"{handle}/echo") == (handle, "echo", None)
    assert parse_target(f"{handle}/echo/3") == (handle, "echo", 3)
    assert parse_target(f"{handle}/") == (handle, None, None)
    for bad in ("echo-1a2b", "local://default", f"{handle}/echo/0/x", "local://de fault/x"):
        with pytest.raises(MalformedHandleError):
            parse_target(bad)
    with pytest.raises(InvalidInputError, match="replica 'x'"):
        parse_target(f"{handle}/echo/x")


def test_parse_cfg() -> None:
    assert parse_cfg([]) == {}
    assert parse_cfg(["a=1,b=two", "c=x=y"]) == {"a": "1", "b": "two", "c": "x=y"}
    assert parse_cfg(["hosts=a,b,c,d=4"]) == {"hosts": "a,b,c", "d": "4"}
    with pytest.raises(InvalidInputError, match="bad --cfg"):
        parse_cfg(["novalue"])


def test_is_app_file() -> None:
    assert is_app_file("app.yaml") and is_app_file("x/app.YML") and is_app_file("a.json")
    assert not is_app_file("utils.echo") and not is_app_file("f.py:fn")


S = AppState


@pytest.mark.parametrize(
    ("state", "target", "ok"),
    [
        (S.SUCCEEDED, None, True),
        (S.FAILED, None, False),
        (S.CANCELLED, None, False),
        (S.RUNNING, S.RUNNING, True),
        (S.SUCCEEDED, S.RUNNING, True),
        (S.FAILED, S.RUNNING, False),
        (S.PENDING, S.RUNNING, False),
        (S.CANCELLED, S.CANCELLED, True),
        (S.FAILED, S.SUCCEEDED, False),
        (S.SUCCEEDED, S.FAILED, False),
        (S.UNKNOWN, S.RUNNING, False),
    ],
)
def test_wait_reached(state: AppState, target: AppState | None, ok: bool) -> None:
    assert reached(state, target) is ok


def test_format_table_aligns_columns() -> None:
    text = format_table(("A", "BB", "C"), [("xxx", None, "last col"), ("y", 2, "z")])
    assert text.splitlines() == ["A    BB  C", "xxx  -   last col", "y    2   z"]


class Color(Enum):
    RED = "red"


@dataclass
class Thing:
    color: Color
    items: tuple[int, ...]


def test_to_jsonable() -> None:
    data = to_jsonable({"t": Thing(Color.RED, (1, 2)), "s": AppState.RUNNING, 3: None})
    assert json.loads(json.dumps(data)) == {
        "t": {"color": "red", "items": [1, 2]},
        "s": "RUNNING",
        "3": None,
    }


def test_interleave_keeps_each_source_in_order_and_completes_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from torchrun_core.cli.log_stream import _interleave

    def lines(tag: str, n: int) -> Iterator[str]:
        for i in range(n):
            yield f"{tag}{i}\n"
        yield f"{tag}-last-without-newline"

    _interleave([("a ", lines("a", 5000)), ("b ", lines("b", 3000)), ("", iter([]))])
    out = capsys.readouterr().out.splitlines()
    assert [ln for ln in out if ln.startswith("a ")] == [
        *(f"a a{i}" for i in range(5000)),
        "a a-last-without-newline",
    ]
    assert len([ln for ln in out if ln.startswith("b ")]) == 3001
    assert len(out) == 8002


def test_interleave_raises_a_reader_error_after_its_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from torchrun_core.cli.log_stream import _interleave

    def failing() -> Iterator[str]:
        yield "one\n"
        raise InvalidInputError("log gone")

    with pytest.raises(InvalidInputError, match="log gone"):
        _interleave([("", failing())])
    assert capsys.readouterr().out == "one\n"
