"""App handles: ``scheduler://session/app_id`` (no pydantic: cheap to import)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from torchrun_core.errors import MalformedHandleError

_HANDLE_RE = re.compile(
    r"^(?P<scheduler>[A-Za-z0-9_-]+)://(?P<session>[A-Za-z0-9_.-]+)/(?P<app_id>[A-Za-z0-9_.:-]+)$"
)
EXPECTED_FORM = "scheduler://session/app_id, e.g. local://default/echo-1a2b3c"


@dataclass(frozen=True, order=True)
class AppHandle:
    """Names one submitted app across every scheduler and process."""

    scheduler: str
    session: str
    app_id: str

    @classmethod
    def parse(cls, text: str) -> AppHandle:
        """Parse ``scheduler://session/app_id``.

        Raises:
            MalformedHandleError: showing the expected form.
        """
        match = _HANDLE_RE.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise MalformedHandleError(
                f"malformed app handle {text!r}", hint=f"expected {EXPECTED_FORM}", handle=text
            )
        return cls(match["scheduler"], match["session"], match["app_id"])

    def __str__(self) -> str:
        return f"{self.scheduler}://{self.session}/{self.app_id}"


def parse_handle(handle: str | AppHandle) -> AppHandle:
    """Accept a handle or its string form."""
    return handle if isinstance(handle, AppHandle) else AppHandle.parse(handle)
