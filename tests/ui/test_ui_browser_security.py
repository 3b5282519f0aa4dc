"""Attacks a browser can carry out, tried in a real Chromium: a cross-site form, a token.

A page served from another origin posts to the dashboard's cancel endpoint
(the classic CSRF form, which needs no script and no CORS); the dashboard
must refuse it, and the run must live on. Off loopback, the printed token
opens the dashboard once and then stays out of the address.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from browser import chromium, require_browser
from ui_server import UiProcess, cli, cli_env

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SLEEPER = "import time\nprint('up', flush=True)\ntime.sleep(300)\n"
ATTACK = """<!doctype html>
<form id="f" method="post" action="{target}/api/run/cancel" enctype="text/plain">
<input name='{{"handle": "{handle}", "x": "' value='"}}'>
</form>
<script>document.getElementById("f").submit();</script>
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    require_browser()
    return cli_env(tmp_path / "state")


def start_sleeper(env: dict[str, str], tmp_path: Path) -> str:
    script = tmp_path / "sleeper.py"
    script.write_text(SLEEPER)
    out = cli(env, "run", "utils.python", "--script", str(script))
    return out.strip().splitlines()[-1]


@pytest.fixture
def attacker_site(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A plain web server on another port: another origin."""
    root = tmp_path / "attacker"
    root.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_cross_site_form_cannot_cancel_a_run(
    env: dict[str, str], tmp_path: Path, attacker_site: tuple[Path, str]
) -> None:
    root, origin = attacker_site
    handle = start_sleeper(env, tmp_path)
    ui = UiProcess(["--port", "0", "--allow-actions"], env)
    try:
        (root / "attack.html").write_text(ATTACK.format(target=ui.base, handle=handle))
        with chromium() as driver:
            driver.get(f"{origin}/attack.html")
            deadline = time.monotonic() + 30
            while ui.base not in driver.current_url:  # the form posted and navigated
                assert time.monotonic() < deadline, "the attack form never posted"
                time.sleep(0.05)
            body = driver.find_element("tag name", "body").text
        assert "refused" in body or "CSRF" in body, body
        status = json.loads(cli(env, "status", "--json", handle))
        assert status["state"] == "RUNNING"
    finally:
        subprocess.run(
            [sys.executable, "-m", "torchrun_core", "cancel", handle],
            env=env,
            capture_output=True,
            timeout=60,
        )
        code, _, err = ui.stop()
    assert code == 0, err


def test_the_printed_token_opens_the_dashboard_once(env: dict[str, str], tmp_path: Path) -> None:
    handle = start_sleeper(env, tmp_path)
    ui = UiProcess(["--host", "0.0.0.0", "--port", "0"], env)
    try:
        port = ui.base.rsplit(":", 1)[1]
        token = ui.url.split("?token=", 1)[1]
        local = f"http://127.0.0.1:{port}"
        with chromium() as driver:
            driver.get(f"{local}/")
            assert "needs its access token" in driver.find_element("tag name", "body").text
            driver.get(f"{local}/?token={token}")
            deadline = time.monotonic() + 30
            while not driver.execute_script(
                "return [...document.querySelectorAll('#runs tbody tr')]"
                ".some(tr => tr.dataset.handle === arguments[0])",
                handle,
            ):
                assert time.monotonic() < deadline, "the runs never showed"
                time.sleep(0.05)
            assert "token" not in driver.current_url  # traded for a cookie
            cookies = {c["name"]: c for c in driver.get_cookies()}
            assert cookies[f"torchrun_core_ui_{port}"]["httpOnly"] is True
            assert driver.execute_script("return document.cookie") == ""  # not readable by scripts
    finally:
        cli(env, "cancel", handle)
        code, _, err = ui.stop()
    assert code == 0, err
