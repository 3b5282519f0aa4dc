"""AppState ordering and parsing; AppStatus lookups and raise_for_status."""

from __future__ import annotations

import itertools
import random

import pytest

from torchrun_core.errors import AppCancelledError, AppFailedError, InvalidInputError
from torchrun_core.specs.state import TERMINAL_STATES, AppState
from torchrun_core.specs.status import AppStatus, ReplicaStatus, RoleStatus

S = AppState
LIFECYCLE = [S.UNSUBMITTED, S.SUBMITTED, S.PENDING, S.RUNNING]
TERMINAL = [S.SUCCEEDED, S.FAILED, S.CANCELLED]
ORDERED = [*LIFECYCLE, *TERMINAL]


def test_lifecycle_is_strictly_increasing() -> None:
    for earlier, later in itertools.combinations(LIFECYCLE, 2):
        assert earlier < later and earlier <= later
        assert later > earlier and later >= earlier
        assert not later < earlier and not later <= earlier
        assert earlier.before(later) and later.after(earlier)
        assert not earlier.after(later) and not later.before(earlier)


@pytest.mark.parametrize("terminal", TERMINAL)
@pytest.mark.parametrize("live", LIFECYCLE)
def test_every_terminal_state_comes_after_running(live: AppState, terminal: AppState) -> None:
    assert live < terminal
    assert terminal > live
    assert live.before(terminal)
    assert terminal.after(live)


def test_terminal_states_are_not_ordered_among_themselves() -> None:
    for a, b in itertools.permutations(TERMINAL, 2):
        assert not a < b and not a > b
        assert not a <= b and not a >= b
        assert not a.before(b) and not a.after(b)
        assert a.rank == b.rank


@pytest.mark.parametrize("state", ORDERED)
def test_a_state_is_equal_to_itself_not_less(state: AppState) -> None:
    assert state <= state and state >= state
    assert not state < state and not state > state
    assert not state.before(state) and not state.after(state)


@pytest.mark.parametrize("other", list(AppState))
def test_every_comparison_with_unknown_is_false(other: AppState) -> None:
    unknown = S.UNKNOWN
    assert not unknown < other and not other < unknown
    assert not unknown > other and not other > unknown
    assert not unknown <= other and not other <= unknown
    assert not unknown >= other and not other >= unknown
    assert not unknown.before(other) and not other.before(unknown)
    assert not unknown.after(other) and not other.after(unknown)
    assert unknown.rank is None


def test_comparison_with_plain_strings_is_false_not_alphabetical() -> None:
    # str's ordering would say "FAILED" < "PENDING"; states must never compare that way.
    assert not S.RUNNING < "SUCCEEDED"
    assert not S.RUNNING <= "RUNNING"
    assert not S.FAILED < "PENDING"
    assert not S.RUNNING >= "RUNNING"


def test_before_after_accept_state_names() -> None:
    assert S.PENDING.before("RUNNING")  # type: ignore[arg-type]
    assert S.FAILED.after("SUBMITTED")  # type: ignore[arg-type]


def test_is_terminal() -> None:
    assert {s for s in AppState if s.is_terminal} == set(TERMINAL) == set(TERMINAL_STATES)
    assert not S.UNKNOWN.is_terminal


def test_sorting_non_unknown_states() -> None:
    rng = random.Random(7)
    for _ in range(20):
        states = ORDERED * 2
        rng.shuffle(states)
        ranks = [s.rank for s in sorted(states)]
        assert ranks == sorted(r for r in ranks if r is not None)
        assert sorted(states)[:8] == sorted(LIFECYCLE * 2, key=LIFECYCLE.index)
    assert max([S.PENDING, S.RUNNING, S.SUBMITTED]) is S.RUNNING
    assert min([S.RUNNING, S.PENDING]) is S.PENDING


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("running", S.RUNNING),
        ("Failed", S.FAILED),
        ("  SUCCEEDED\n", S.SUCCEEDED),
        ("cancelled", S.CANCELLED),
        ("unknown", S.UNKNOWN),
    ],
)
def test_parse_is_case_insensitive(text: str, state: AppState) -> None:
    assert AppState.parse(text) is state


@pytest.mark.parametrize("text", ["", "RUN", "done", "CANCELED", "1"])
def test_parse_junk_raises_invalid_input_naming_states(text: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        AppState.parse(text)
    assert repr(text) in str(info.value)
    assert info.value.hint is not None
    for state in AppState:
        assert state.value in info.value.hint
    assert info.value.exit_code == 2


def test_str_and_hash() -> None:
    assert str(S.RUNNING) == "RUNNING"
    assert f"{S.FAILED}" == "FAILED"
    assert len({*AppState, *AppState}) == len(AppState)
    assert {S.RUNNING: 1}[AppState("RUNNING")] == 1


# -- AppStatus ---------------------------------------------------------------------


def make_status(
    state: AppState, *, message: str = "", handle: str = "local://s/app-1"
) -> AppStatus:
    return AppStatus(
        state=state,
        handle=handle,
        message=message,
        roles=[
            RoleStatus(
                role="trainer",
                replicas=[
                    ReplicaStatus(id=0, role="trainer", state=S.SUCCEEDED, exit_code=0),
                    ReplicaStatus(id=1, role="trainer", state=S.FAILED, exit_code=3, hostname="h1"),
                ],
            ),
            RoleStatus(
                role="ps",
                replicas=[ReplicaStatus(id=0, role="ps", state=S.FAILED, exit_code=9)],
            ),
        ],
    )


def test_raise_for_status_failed_names_replica_and_exit_code() -> None:
    status = make_status(S.FAILED, message="oom")
    with pytest.raises(AppFailedError) as info:
        status.raise_for_status()
    msg = str(info.value)
    assert "local://s/app-1" in msg
    assert "trainer/1" in msg  # the first failed replica, not ps/0
    assert "3" in msg
    assert "oom" in msg
    assert info.value.handle == "local://s/app-1"  # type: ignore[attr-defined]
    assert info.value.hint is not None and "local://s/app-1" in info.value.hint
    assert info.value.exit_code == 1


def test_raise_for_status_failed_without_replicas() -> None:
    with pytest.raises(AppFailedError, match="failed"):
        AppStatus(state=S.FAILED).raise_for_status()


def test_raise_for_status_cancelled() -> None:
    with pytest.raises(AppCancelledError, match="cancelled"):
        make_status(S.CANCELLED).raise_for_status()


@pytest.mark.parametrize("state", [S.SUCCEEDED, S.RUNNING, S.PENDING, S.UNKNOWN])
def test_raise_for_status_returns_self_otherwise(state: AppState) -> None:
    status = make_status(state)
    assert status.raise_for_status() is status


def test_replica_lookup() -> None:
    status = make_status(S.RUNNING)
    assert status.replica("trainer", 1).hostname == "h1"
    assert status.replica("ps", 0).exit_code == 9
    with pytest.raises(KeyError, match="trainer/5"):
        status.replica("trainer", 5)
    with pytest.raises(KeyError, match="nope/0"):
        status.replica("nope", 0)


def test_status_is_terminal_and_json_round_trip() -> None:
    status = make_status(S.FAILED)
    assert status.is_terminal
    assert not make_status(S.RUNNING).is_terminal
    assert AppStatus.model_validate_json(status.model_dump_json()) == status
    assert status.model_dump(mode="json")["state"] == "FAILED"
