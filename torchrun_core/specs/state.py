"""The lifecycle states of an app (no pydantic: cheap to import)."""

from __future__ import annotations

from enum import Enum


class AppState(str, Enum):
    """Where an app is in its life.

    States are ordered ``UNSUBMITTED < SUBMITTED < PENDING < RUNNING <``
    terminal, where the terminal states SUCCEEDED, FAILED and CANCELLED share
    the last rank. UNKNOWN is outside the order: every comparison with it is
    False.
    """

    UNSUBMITTED = "UNSUBMITTED"
    SUBMITTED = "SUBMITTED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"

    @property
    def rank(self) -> int | None:
        """Position in the lifecycle, or None for UNKNOWN."""
        return _RANKS.get(self)

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    def before(self, other: AppState) -> bool:
        """True when ``self`` comes strictly earlier in the lifecycle than ``other``."""
        a, b = self.rank, AppState(other).rank
        return a is not None and b is not None and a < b

    def after(self, other: AppState) -> bool:
        """True when ``self`` comes strictly later in the lifecycle than ``other``."""
        a, b = self.rank, AppState(other).rank
        return a is not None and b is not None and a > b

    # str's own ordering would compare names alphabetically, so replace it.
    def __lt__(self, other: object) -> bool:
        return isinstance(other, AppState) and self.before(other)

    def __gt__(self, other: object) -> bool:
        return isinstance(other, AppState) and self.after(other)

    # Not ``self == other or ...``: str equality would make RUNNING <= "RUNNING"
    # true while RUNNING < "SUCCEEDED" is false, and UNKNOWN <= UNKNOWN true.
    def __le__(self, other: object) -> bool:
        if not isinstance(other, AppState) or self.rank is None:
            return False
        return self is other or self.before(other)

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, AppState) or self.rank is None:
            return False
        return self is other or self.after(other)

    def __hash__(self) -> int:
        return hash(self.value)

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, text: str) -> AppState:
        """Parse a state name case-insensitively.

        Raises:
            InvalidInputError: naming the accepted states.
        """
        try:
            return cls(text.strip().upper())
        except ValueError:
            from torchrun_core.errors import InvalidInputError

            names = ", ".join(s.value for s in cls)
            raise InvalidInputError(
                f"unknown app state {text!r}", hint=f"use one of {names}"
            ) from None


TERMINAL_STATES = frozenset({AppState.SUCCEEDED, AppState.FAILED, AppState.CANCELLED})
# The recorded states a scheduler may still change (UNKNOWN says nothing either way).
LIVE_STATES = (AppState.UNSUBMITTED, AppState.SUBMITTED, AppState.PENDING, AppState.RUNNING)

_RANKS = {
    AppState.UNSUBMITTED: 0,
    AppState.SUBMITTED: 1,
    AppState.PENDING: 2,
    AppState.RUNNING: 3,
    AppState.SUCCEEDED: 4,
    AppState.FAILED: 4,
    AppState.CANCELLED: 4,
}
