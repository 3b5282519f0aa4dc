"""What a dry run returns: the scheduler-native request, printable and redacted."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from torchrun_core.specs.app import AppDef

RequestT = TypeVar("RequestT")

# An env var is a secret when its name contains one of these words, in any
# case (the globs *TOKEN*, *SECRET*, *KEY*, ...); its value never appears in
# dry-run output, describe or the run store. Deliberately broad: KEY also
# hides MONKEY or SORT_KEY and AUTH hides AUTHOR, since over-hiding a harmless
# value costs a "***" in the output while missing a secret leaks it.
SECRET_WORDS = (
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "CREDENTIAL",
    "PRIVATE",
    "KEY",
    "AUTH",
)
SECRET_KEY_RE = re.compile("|".join(SECRET_WORDS), re.IGNORECASE)
REDACTED = "***"


def is_secret_key(key: str) -> bool:
    return SECRET_KEY_RE.search(key) is not None


def redact_env(env: dict[str, str]) -> dict[str, str]:
    """A copy of ``env`` with secret-looking values replaced."""
    return {k: (REDACTED if is_secret_key(k) else v) for k, v in env.items()}


def redacted_app_dict(app: AppDef) -> dict[str, Any]:
    """``app.to_dict()`` with the values of secret-looking env keys replaced."""
    data = app.to_dict()
    for role in data.get("roles", []):
        if "env" in role:
            role["env"] = redact_env(role["env"])
    return data


@dataclass
class AppDryRunInfo(Generic[RequestT]):
    """A scheduler's native request for an app, ready for ``schedule``.

    ``str(info)`` renders the request with ``formatter``, then blanks out any
    secret env value of the app that is still visible;
    ``schedule(info)`` submits exactly ``request``.
    """

    request: RequestT
    app: AppDef
    scheduler: str
    session: str
    cfg: Any
    formatter: Callable[[RequestT], str] = field(default=repr, repr=False)
    app_id: str | None = None  # fixed at dry run when the scheduler picks ids up front
    # One line each for the user, not part of the request (e.g. the file tracker is off).
    notes: list[str] = field(default_factory=list)
    # Work the dry run planned but did not do (a workspace image to build and push):
    # the Runner's schedule calls it with ``app`` and submits a new dry run of what it returns.
    pending_build: Callable[[AppDef], AppDef] | None = field(default=None, repr=False)

    def __str__(self) -> str:
        text = self.formatter(self.request)
        # Safety net for a formatter that forgets to redact (the default repr does):
        # no secret env value of the app is ever printed.
        for secret in _secret_values(self.app):
            text = text.replace(secret, REDACTED)
        return text


# Shorter values are skipped: replacing "1" or "on" everywhere would garble the
# output while hiding nothing worth hiding.
_MIN_SECRET_LEN = 4


def _secret_values(app: AppDef) -> list[str]:
    """Values of the app's secret-looking env vars, longest first."""
    values = {
        v
        for role in app.roles
        for k, v in role.env.items()
        if is_secret_key(k) and len(v) >= _MIN_SECRET_LEN
    }
    return sorted(values, key=len, reverse=True)
