"""Who may talk to the dashboard, and what the browser may do with its pages.

One ASGI middleware, in front of everything:

- **Host check.** Bound to loopback, a request must name a loopback host:
  a web page cannot reach the dashboard through DNS rebinding.
- **Token.** When a token is set (always, off loopback) every request must
  carry it: ``?token=`` once (it becomes an HttpOnly cookie and the browser
  is sent to the same URL without it), the cookie, or ``Authorization:
  Bearer``.
- **Cross-site requests.** Anything but GET/HEAD must carry the page's CSRF
  token in ``X-CSRF-Token`` and, when the browser names an ``Origin``, come
  from the dashboard's own origin. A cross-site form cannot set the header.
- **Headers.** A strict Content-Security-Policy (scripts and everything else
  from this server only, no inline script), no framing, no sniffing, no
  referrer.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

from torchrun_core.ui.settings import UiSettings, is_loopback

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
        b"frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


def token_cookie_name(port: int) -> str:
    # Cookies ignore the port: two dashboards on one host must not share one.
    return f"torchrun_core_ui_{port}"


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _host_name(host_header: str) -> str:
    if host_header.startswith("["):  # [::1]:8610
        return host_header[1 : host_header.find("]")]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


class SecurityMiddleware:
    """Applies the checks above, then adds the security headers to every answer."""

    def __init__(self, app: ASGIApp, settings: UiSettings) -> None:
        self.app = app
        self.settings = settings
        self.cookie = token_cookie_name(settings.port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            status, error, hint = refusal
            await _send_json(send, status, {"error": error, "hint": hint})
            return
        if self.settings.token is not None and self._token_in_query(scope):
            await self._trade_token_for_cookie(scope, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        headers = _headers(scope)
        host = headers.get("host", "")
        if is_loopback(self.settings.host) and not is_loopback(_host_name(host)):
            return (
                403,
                f"host {host!r} is not this machine",
                "open the dashboard at the 127.0.0.1 URL that torchrun-core ui printed",
            )
        if self.settings.token is not None and not self._has_token(scope, headers):
            return (
                401,
                "this dashboard needs its access token",
                "open the URL with ?token= that torchrun-core ui printed",
            )
        if scope["method"] not in SAFE_METHODS:
            origin = headers.get("origin")
            own = {f"http://{host}", f"https://{host}"}
            if origin is not None and origin not in own:
                return 403, f"cross-site request from {origin!r} refused", "use the dashboard page"
            sent = headers.get(CSRF_HEADER, "")
            if not secrets.compare_digest(sent.encode(), self.settings.csrf_token.encode()):
                return 403, "missing or wrong CSRF token", "use the dashboard page"
        return None

    def _has_token(self, scope: Scope, headers: dict[str, str]) -> bool:
        expected = (self.settings.token or "").encode()
        candidates = [
            dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"))).get("token")
        ]
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            candidates.append(auth[7:].strip())
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header is no token
            cookie = SimpleCookie()
        if self.cookie in cookie:
            candidates.append(cookie[self.cookie].value)
        return any(c and secrets.compare_digest(c.encode(), expected) for c in candidates)

    def _token_in_query(self, scope: Scope) -> bool:
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"))
        return scope["method"] == "GET" and any(k == "token" for k, _ in query)

    async def _trade_token_for_cookie(self, scope: Scope, send: Send) -> None:
        """Set the token as a cookie and send the browser to the URL without it."""
        query = [
            (k, v)
            for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"))
            if k != "token"
        ]
        location = scope.get("path", "/") + (f"?{urlencode(query)}" if query else "")
        cookie = (
            f"{self.cookie}={self.settings.token}; Path=/; HttpOnly; SameSite=Strict"
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", location.encode("latin-1")),
                    (b"set-cookie", cookie),
                    *SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})


async def _send_json(send: Send, status: int, body: dict[str, str]) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
