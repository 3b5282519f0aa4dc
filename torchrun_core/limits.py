"""The documented upper bounds on what callers may ask for (docs/errors.md, "Limits").

Each bound keeps a typo from hanging a command or overflowing a store or an
engine: a value past it is bad input (InvalidInputError, exit 2), refused
before anything runs. Scheduler plugins may use them for their own options.
"""

from __future__ import annotations

import math

# A dry run builds one request per replica: ten thousand take about a second
# (local, docker, slurm); 10**7 took over a minute and 8 GB.
MAX_REPLICAS_PER_ROLE = 10_000
MAX_REPLICAS_PER_APP = 10_000

# Grace periods (seconds between the polite stop and the kill): finite, and
# short enough to fit every engine's integer fields.
MAX_GRACE_PERIOD_S = 86_400

# Counts and positions the run store compares in SQL (list limits, event
# sequence numbers, cursor row ids) are SQLite INTEGERs: signed 64-bit.
MAX_STORE_INT = 2**63 - 1


def check_store_int(value: int, what: str, hint: str) -> None:
    """Raise InvalidInputError unless ``0 <= value <= MAX_STORE_INT``, naming ``what``.

    SQLite refuses larger Python ints with OverflowError, which would reach
    the caller as an internal error.
    """
    from torchrun_core.errors import InvalidInputError

    if not 0 <= value <= MAX_STORE_INT:
        raise InvalidInputError(f"{what} must be 0 to {MAX_STORE_INT}, not {value}", hint=hint)


def check_timeout(timeout: float | None) -> float | None:
    """A wait's ``timeout`` in seconds: None or infinity mean none; NaN or negative are refused.

    Without this check a NaN deadline never passes (every comparison is
    false), so ``wait --timeout nan`` waited for ever.
    """
    from torchrun_core.errors import InvalidInputError

    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
        raise InvalidInputError(
            f"timeout must be a number of seconds, 0 or more, not {timeout!r}",
            hint="give seconds, e.g. 30 or 0.5; leave the timeout out to wait until the end",
        )
    return None if timeout == float("inf") else timeout


def check_grace_period(grace_period: float | None) -> None:
    """Raise InvalidInputError unless ``grace_period`` is None, or 0 to MAX_GRACE_PERIOD_S s."""
    from torchrun_core.errors import InvalidInputError

    if grace_period is None:
        return
    if not isinstance(grace_period, (int, float)) or not math.isfinite(grace_period):
        raise InvalidInputError(
            f"grace period must be a number of seconds, not {grace_period!r}", hint=_GRACE_HINT
        )
    if not 0 <= grace_period <= MAX_GRACE_PERIOD_S:
        raise InvalidInputError(
            f"grace period must be 0 to {MAX_GRACE_PERIOD_S} s, not {grace_period:g} s",
            hint=_GRACE_HINT,
        )


_GRACE_HINT = f"give whole or fractional seconds from 0 to {MAX_GRACE_PERIOD_S} (one day)"
