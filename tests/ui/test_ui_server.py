"""``torchrun-core ui`` as users start it: a real uvicorn process, its URL, signals, bad input."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from ui.ui_apps import iter_sse_events
from ui_server import UiProcess, cli, cli_env, wait_until

# Prints "ready", then "marker" once the trigger file exists, then ends.
TRIGGERED_JOB = """
import os, sys, time
print("ready", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.02)
print("marker %.6f" % time.time(), flush=True)
"""
SLEEPER = "import time\nprint('started', flush=True)\ntime.sleep(120)\n"


def run_script(env: dict[str, str], tmp_path: Path, code: str, *args: str) -> str:
    script = tmp_path / f"job-{time.monotonic_ns()}.py"
    script.write_text(code)
    out = cli(env, "run", "utils.python", "--script", str(script), *args)
    return out.strip().splitlines()[-1]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path / "state")


def test_prints_its_url_once_follows_a_live_log_and_stops_on_ctrl_c(
    env: dict[str, str], tmp_path: Path
) -> None:
    trigger = tmp_path / "trigger"
    handle = run_script(env, tmp_path, TRIGGERED_JOB, str(trigger))
    ui = UiProcess(["--port", "0"], env)
    try:
        assert ui.url.startswith("http://127.0.0.1:")
        assert "token=" not in ui.url  # loopback: no token needed
        received: list[tuple[str, object]] = []
        with ui.client() as client:
            assert client.get("/api/meta").json()["allow_actions"] is False
            params = {"handle": handle, "role": "python", "replica": "0"}
            with client.stream("GET", "/api/run/logs/stream", params=params) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                for event, data in iter_sse_events(response.iter_lines()):
                    received.append((event, data))
                    if event == "lines" and "ready" in data:  # type: ignore[operator]
                        trigger.touch()
                    if event == "end":
                        break
        lines = [line for event, data in received if event == "lines" for line in data]  # type: ignore[union-attr]
        assert lines[0] == "ready"
        assert lines[1].startswith("marker ")
        delay = time.time() - float(lines[1].split()[1])
        print(f"line to client: {delay * 1000:.0f} ms (upper bound: includes the stream's end)")
        assert received[-1][0] == "end"
    finally:
        code, out, err = ui.stop(signal.SIGINT)
    assert code == 0, err
    assert out == ""  # the URL line only, printed once
    assert "Traceback" not in err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stops_cleanly_with_a_stream_open(
    env: dict[str, str], tmp_path: Path, sig: signal.Signals
) -> None:
    handle = run_script(env, tmp_path, SLEEPER)
    ui = UiProcess(["--port", "0"], env)
    opened = threading.Event()

    def follow() -> None:
        with httpx.Client(base_url=ui.base, timeout=60) as client:
            params = {"handle": handle, "role": "python", "replica": "0"}
            try:
                with client.stream("GET", "/api/run/logs/stream", params=params) as response:
                    for _ in response.iter_lines():
                        opened.set()
            except httpx.HTTPError:
                pass  # the server went away: what this test does to it

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    try:
        assert opened.wait(30), "the log stream never opened"
        started = time.monotonic()
        code, _, err = ui.stop(sig)
        print(f"stopped in {time.monotonic() - started:.2f}s")
    finally:
        cli(env, "cancel", handle)
    assert code == 0, err
    assert "Traceback" not in err
    reader.join(10)
    assert not reader.is_alive(), "the client's stream was left open"


def test_a_non_loopback_address_needs_the_printed_token(env: dict[str, str]) -> None:
    ui = UiProcess(["--host", "0.0.0.0", "--port", "0"], env)
    try:
        query = ui.url.partition("?")[2]
        assert query.startswith("token=")
        token = query[len("token=") :]
        assert len(token) >= 20
        with httpx.Client(base_url=ui.base, timeout=30) as client:
            refused = client.get("/api/meta")
            assert refused.status_code == 401
            assert "token" in refused.json()["error"]
            assert (
                client.get("/api/meta", headers={"authorization": "Bearer nope"}).status_code == 401
            )
            traded = client.get(f"/?token={token}")
            assert traded.status_code == 303
            assert traded.headers["location"] == "/"
            assert "HttpOnly" in traded.headers["set-cookie"]
            # httpx keeps the cookie, as the browser does.
            assert client.get("/api/meta").status_code == 200
        headers = {"authorization": f"Bearer {token}"}
        assert httpx.get(f"{ui.base}/api/meta", headers=headers, timeout=30).status_code == 200
    finally:
        code, _, err = ui.stop()
    assert code == 0, err


def test_a_token_can_be_chosen_through_the_environment(env: dict[str, str]) -> None:
    ui = UiProcess(["--port", "0"], {**env, "TORCHRUN_CORE_UI_TOKEN": "chosen-token-0123456789"})
    try:
        assert ui.url.endswith("?token=chosen-token-0123456789")
        assert httpx.get(f"{ui.base}/api/meta", timeout=30).status_code == 401
    finally:
        ui.stop()


def _ui_fails(env: dict[str, str], *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "torchrun_core", "ui", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stderr


def test_a_taken_port_is_a_one_line_error(env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, err = _ui_fails(env, "--port", str(port))
    assert code == 2
    assert err.splitlines() == [
        f"error: cannot bind the dashboard to 127.0.0.1:{port}: Address already in use",
        "hint: --port 0 picks a free port",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "99999"], "error: invalid --port '99999'"),
        (["--port", "http"], "error: invalid --port 'http'"),
        (["--host", "no-such-host.invalid"], "error: cannot bind the dashboard to host"),
    ],
)
def test_bad_input_is_a_clear_error(env: dict[str, str], args: list[str], message: str) -> None:
    code, err = _ui_fails(env, *args)
    assert code == 2
    assert err.startswith(message), err
    assert "Traceback" not in err
    assert len(err.splitlines()) <= 2


def test_the_log_stream_of_a_quiet_job_can_be_left(env: dict[str, str], tmp_path: Path) -> None:
    """A browser that closes a quiet log's stream frees the server for other requests."""
    handle = run_script(env, tmp_path, SLEEPER)
    ui = UiProcess(["--port", "0"], env)
    try:
        with ui.client() as client:
            params = {"handle": handle, "role": "python", "replica": "0"}
            for _ in range(3):
                with client.stream("GET", "/api/run/logs/stream", params=params) as response:
                    next(response.iter_lines())
            wait_until(lambda: client.get("/api/runs").status_code == 200, what="the runs page")
            assert client.get("/api/run", params={"handle": handle}).json()["state"] == "RUNNING"
    finally:
        cli(env, "cancel", handle)
        code, _, err = ui.stop()
    assert code == 0, err


def test_open_hands_the_url_to_the_browser(env: dict[str, str], tmp_path: Path) -> None:
    opened = tmp_path / "opened"
    # webbrowser runs $BROWSER with %s replaced by the URL.
    browser = f"sh -c 'echo \"$0\" > {opened}' %s"
    ui = UiProcess(["--port", "0", "--open"], {**env, "BROWSER": browser})
    try:
        wait_until(opened.exists, 30, "the browser command")
        wait_until(lambda: opened.read_text().strip() != "", 10, "the URL")
        assert opened.read_text().strip() == ui.url
    finally:
        code, _, err = ui.stop()
    assert code == 0, err


def test_without_the_ui_extra_the_error_names_it(env: dict[str, str]) -> None:
    # The extra's packages, made unimportable as they are when not installed.
    code = (
        "import sys\nsys.modules['uvicorn'] = None\n"
        "from torchrun_core.cli.main import main\nsys.exit(main(['ui']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: the dashboard needs the [ui] extra (uvicorn is not installed)",
        "hint: pip install 'torchrun-core[ui]'",
    ]
