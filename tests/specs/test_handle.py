"""AppHandle: parsing, printing and malformed handles."""

from __future__ import annotations

from typing import Any

import pytest

from torchrun_core.errors import InvalidInputError, MalformedHandleError
from torchrun_core.specs.handle import EXPECTED_FORM, AppHandle, parse_handle


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("local://default/echo-1a2b", ("local", "default", "echo-1a2b")),
        ("slurm://my.session/12345", ("slurm", "my.session", "12345")),
        ("kubernetes://s_1/ns:job-x", ("kubernetes", "s_1", "ns:job-x")),
        ("my-sched://s/A.b_c-d", ("my-sched", "s", "A.b_c-d")),
    ],
)
def test_parse_and_str_round_trip(text: str, parts: tuple[str, str, str]) -> None:
    handle = AppHandle.parse(text)
    assert (handle.scheduler, handle.session, handle.app_id) == parts
    assert str(handle) == text
    assert AppHandle.parse(str(handle)) == handle
    assert AppHandle(*parts) == handle


def test_surrounding_whitespace_is_ignored() -> None:
    assert str(AppHandle.parse("  local://s/id\n")) == "local://s/id"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "local",
        "local://",
        "local://s",
        "local://s/",
        "local:///id",
        "://s/id",
        "a b://s/i",
        "local://s/i/extra",
        "local:/s/i",
        "local://s i/id",
        "local://s/i d",
        "local://s//id",
    ],
)
def test_malformed_handles_show_the_expected_form(text: str) -> None:
    with pytest.raises(MalformedHandleError) as info:
        AppHandle.parse(text)
    err = info.value
    assert repr(text) in str(err)
    assert err.hint is not None
    assert "scheduler://session/app_id" in err.hint
    assert EXPECTED_FORM in err.hint
    assert err.handle == text  # type: ignore[attr-defined]
    assert isinstance(err, InvalidInputError)
    assert err.exit_code == 2


@pytest.mark.parametrize("value", [None, 3, b"local://s/i"])
def test_non_string_is_malformed(value: Any) -> None:
    with pytest.raises(MalformedHandleError):
        AppHandle.parse(value)


def test_parse_handle_accepts_both_forms() -> None:
    handle = AppHandle("local", "s", "i")
    assert parse_handle(handle) is handle
    assert parse_handle("local://s/i") == handle
    with pytest.raises(MalformedHandleError):
        parse_handle("nope")


def test_handles_are_hashable_ordered_and_frozen() -> None:
    a, b = AppHandle("local", "s", "a"), AppHandle("local", "s", "b")
    assert a < b
    assert len({a, AppHandle.parse("local://s/a"), b}) == 2
    with pytest.raises(AttributeError):
        a.app_id = "x"  # type: ignore[misc]
