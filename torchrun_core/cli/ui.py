"""Serve the dashboard: runs, logs and metrics in a browser (the ``[ui]`` extra).

It binds 127.0.0.1 by default. Binding any other address requires an
access token: a fresh one is printed once, in the URL (or set your own in
TORCHRUN_CORE_UI_TOKEN). Cancel and rerun buttons appear only with
--allow-actions.
"""

from __future__ import annotations

import argparse
import os

from torchrun_core.errors import InvalidInputError

TOKEN_ENV = "TORCHRUN_CORE_UI_TOKEN"


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise InvalidInputError(f"invalid --port {text!r}", hint="use 0 to 65535 (0: any free)")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine)"
    )
    parser.add_argument(
        "--port", type=_port, default=8610, help="port to bind (default 8610; 0: any free port)"
    )
    parser.add_argument(
        "--allow-actions",
        action="store_true",
        help="show cancel and rerun buttons (off by default: the dashboard only reads)",
    )
    parser.add_argument("--open", action="store_true", help="open the dashboard in a browser")


def execute(args: argparse.Namespace) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:
        raise InvalidInputError(
            f"the dashboard needs the [ui] extra ({err.name} is not installed)",
            hint="pip install 'torchrun-core[ui]'",
        ) from None
    from torchrun_core.runner import get_runner
    from torchrun_core.ui.server import serve
    from torchrun_core.ui.settings import UiSettings

    settings = UiSettings.create(
        args.host,
        args.port,
        allow_actions=args.allow_actions,
        token=os.environ.get(TOKEN_ENV) or None,
    )
    with get_runner() as runner:
        return serve(runner, settings, open_browser=args.open)
