"""Shared parts of the Python bad-input corpus, and its upper-bound cases (errors.md, Limits).

Every bound gives InvalidInputError (or SpecError), never OverflowError or
ValueError; an app id longer than a file name is "no app", never OSError.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torchrun_core import errors
from torchrun_core.runner import Runner
from torchrun_core.specs.app import AppDef, Role

UNKNOWN = "local://default/never-submitted-1"
LONG_ID = f"local://default/{'a' * 300}"
SECRET = "s3cr3t-do-not-print"  # a value no error message may show
APP = AppDef(name="app", roles=[Role(name="r", entrypoint="true")])


@dataclass(frozen=True)
class ApiCase:
    """A call given (runner, files dir), the error class it must raise, and a message fragment."""

    id: str
    call: Callable[[Runner, Path], Any]
    error: type[errors.TorchrunCoreError]
    fragment: str


def _cursor(key: list[object]) -> str:
    """A ``newest`` cursor holding ``key``, as list pages print them (to forge bad ones)."""
    text = json.dumps([1, "newest", key]).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


LIMIT_CASES = [
    # upper bounds (docs/errors.md, "Limits"): InvalidInputError, never OverflowError/ValueError
    ApiCase(
        "huge-replicas",
        lambda r, d: Role(name="r", entrypoint="x", num_replicas=10**20),
        errors.SpecError,
        "less than or equal to 10000",
    ),
    ApiCase(
        "too-many-replicas-in-all",
        lambda r, d: AppDef.from_file(d / "too_many_replicas.yaml"),
        errors.SpecError,
        "12000 replicas in all",
    ),
    ApiCase(
        "infinite-grace-period-option",
        lambda r, d: r.dryrun(APP, cfg={"grace_period": float("inf")}),
        errors.InvalidOptionError,
        "grace_period",
    ),
    ApiCase(
        "infinite-cancel-grace-period",
        lambda r, d: r.cancel(UNKNOWN, grace_period=float("inf")),
        errors.InvalidInputError,
        "grace period",
    ),
    ApiCase(
        "huge-cancel-grace-period",
        lambda r, d: r.cancel(UNKNOWN, grace_period=10**30),
        errors.InvalidInputError,
        "grace period must be 0 to 86400 s",
    ),
    ApiCase(
        "huge-list-limit", lambda r, d: r.list(limit=10**30), errors.InvalidInputError, "limit"
    ),
    ApiCase(
        "unknown-list-state",
        lambda r, d: r.list(states=["BOGUS"]),
        errors.InvalidInputError,
        "unknown app state 'BOGUS'",
    ),
    ApiCase(
        "unknown-wait-state",
        lambda r, d: r.wait(UNKNOWN, timeout=30, state="BOGUS"),  # type: ignore[arg-type]
        errors.InvalidInputError,
        "unknown app state 'BOGUS'",
    ),
    ApiCase(
        "nan-wait-timeout",
        lambda r, d: r.wait(UNKNOWN, timeout=float("nan")),
        errors.InvalidInputError,
        "timeout must be",
    ),
    ApiCase(
        "huge-events-after",
        lambda r, d: r.events(UNKNOWN, after=10**30),
        errors.InvalidInputError,
        "after must be 0 to",
    ),
    ApiCase(
        "huge-cursor-rowid",
        lambda r, d: r.list(cursor=_cursor([1.0, 10**30])),
        errors.InvalidInputError,
        "invalid cursor",
    ),
    ApiCase(
        "huge-list-since",
        lambda r, d: r.list(since=10**400),
        errors.InvalidInputError,
        "since must be a finite unix time",
    ),
    ApiCase(
        "huge-list-until",
        lambda r, d: r.list(until=-(10**400)),
        errors.InvalidInputError,
        "until must be a finite unix time",
    ),
    # an app id longer than a file name: not found, never OSError "File name too long"
    ApiCase("long-app-id-status", lambda r, d: r.status(LONG_ID), errors.AppNotFoundError, "no"),
    ApiCase("long-app-id-log", lambda r, d: r.log_lines(LONG_ID), errors.AppNotFoundError, "no"),
    ApiCase("long-app-id-cancel", lambda r, d: r.cancel(LONG_ID), errors.AppNotFoundError, "no"),
]
