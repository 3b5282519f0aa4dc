"""Serve the dashboard: bind, print the URL once, serve until Ctrl-C or SIGTERM, exit cleanly."""

from __future__ import annotations

import dataclasses
import errno
import signal
import socket
import sys
import threading
import webbrowser
from collections.abc import Callable
from typing import TYPE_CHECKING

import uvicorn

from torchrun_core.errors import InvalidInputError

if TYPE_CHECKING:
    from torchrun_core.runner import Runner
    from torchrun_core.ui.settings import UiSettings

# Open event streams (followed logs) get this long to finish on shutdown.
SHUTDOWN_GRACE_S = 1


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port).

    Raises:
        InvalidInputError: the host is unknown here, or the port is taken.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as err:
        raise InvalidInputError(
            f"cannot bind the dashboard to host {host!r}: {err.strerror}",
            hint="use an address of this machine, e.g. 127.0.0.1",
        ) from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        hint = "--port 0 picks a free port" if err.errno == errno.EADDRINUSE else None
        raise InvalidInputError(
            f"cannot bind the dashboard to {host}:{port}: {err.strerror}", hint=hint
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(settings: UiSettings, port: int) -> str:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    query = f"?token={settings.token}" if settings.token else ""
    return f"http://{host}:{port}/{query}"


def serve(
    runner: Runner,
    settings: UiSettings,
    *,
    open_browser: bool = False,
    announce: Callable[[str], None] | None = None,
) -> int:
    """Serve until interrupted; returns the exit code (0)."""
    from torchrun_core.ui.app import create_app

    sock = bind(settings.host, settings.port)
    # The port really bound (--port 0 picks one): the token cookie is named after it.
    settings = dataclasses.replace(settings, port=sock.getsockname()[1])
    url = url_of(settings, settings.port)
    (announce or _print)(url)
    app = create_app(runner, settings)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    server = _Server(config, app.state.close_streams)
    if open_browser:
        threading.Timer(0.3, webbrowser.open, args=(url,)).start()
    with _quiet_stop_signals():
        server.run(sockets=[sock])
    sock.close()
    return 0


class _Server(uvicorn.Server):
    """Ends the open log streams first when stopping, so that no request is cut off."""

    def __init__(self, config: uvicorn.Config, close_streams: Callable[[], None]) -> None:
        super().__init__(config)
        self._close_streams = close_streams

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._close_streams()
        await super().shutdown(sockets)


def _print(url: str) -> None:
    sys.stdout.write(f"torchrun-core ui: serving {url}  (Ctrl-C to stop)\n")
    sys.stdout.flush()


class _quiet_stop_signals:
    """Uvicorn stops on SIGINT/SIGTERM, then raises the signal again for the previous
    handler; a no-op handler there makes the stop a clean return, not a
    KeyboardInterrupt or a death by SIGTERM."""

    def __enter__(self) -> None:
        self._saved = {s: signal.signal(s, _ignore) for s in (signal.SIGINT, signal.SIGTERM)}

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)


def _ignore(sig: int, frame: object) -> None:
    return None
