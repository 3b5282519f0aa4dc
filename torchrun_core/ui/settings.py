"""How the dashboard serves: address, access token, and whether it may change runs."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8610


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``: only this machine can connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class UiSettings:
    """One dashboard's settings, fixed when it starts.

    ``token`` is required on every request when set; it is always set when
    the server binds anything but loopback. ``csrf_token`` is handed to the
    page and must come back in a header on every action.
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    allow_actions: bool = False
    token: str | None = None
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @classmethod
    def create(
        cls,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        allow_actions: bool = False,
        token: str | None = None,
    ) -> UiSettings:
        """Settings with a fresh token when ``host`` is not loopback and none (or "") was given."""
        if not token and not is_loopback(host):  # an empty token would let anyone in
            token = secrets.token_urlsafe(24)
        return cls(host=host, port=port, allow_actions=allow_actions, token=token or None)
