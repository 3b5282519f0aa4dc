"""Parse the times that ``--since`` and ``--until`` accept."""

from __future__ import annotations

import re
import time
from datetime import datetime

from torchrun_core.errors import InvalidInputError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)"
TIME_FORMS = (
    "unix seconds (1700000000), ISO-8601 (2024-05-01T12:00:00), or an age (30s, 5m, 2h, 1d)"
)


def parse_time(text: str, *, now: float | None = None) -> float:
    """Unix time for ``text``: unix seconds, ISO-8601, or an age such as ``10s``/``5m``/``1h30m``.

    An age means "that long ago". ISO times without an offset are local time.

    Raises:
        InvalidInputError: showing the accepted forms.
    """
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    if re.fullmatch(f"(?:{_PART})+", text):
        age = sum(float(n) * _UNITS[unit] for n, unit in re.findall(_PART, text))
        return (time.time() if now is None else now) - age
    try:
        # Python 3.10's fromisoformat does not take a "Z" suffix. A date at the
        # edge of the calendar (0001-01-01 in local time) has no unix time.
        return datetime.fromisoformat(re.sub(r"[Zz]$", "+00:00", text)).timestamp()
    except (ValueError, OverflowError):
        raise InvalidInputError(f"cannot read time {text!r}", hint=f"use {TIME_FORMS}") from None
