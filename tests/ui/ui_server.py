"""A real ``torchrun-core ui`` process for the dashboard's tests: start, read its URL, stop."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

URL_RE = re.compile(r"serving (http://\S+)")


class UiProcess:
    """``torchrun-core ui ARGS`` in its own process, with ``env`` (a state dir among it)."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "torchrun_core", "ui", *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.first_line = self._read_line(timeout=30)
        found = URL_RE.search(self.first_line)
        if found is None:
            self.stop()
            raise AssertionError(
                f"no URL in {self.first_line!r}; stderr: {self.proc.stderr.read()}"  # type: ignore[union-attr]
            )
        self.url = found.group(1)
        self.base = self.url.split("?", 1)[0].rstrip("/")

    def _read_line(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.proc.kill()
            raise AssertionError(f"torchrun-core ui printed nothing within {timeout}s")
        return self.proc.stdout.readline()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15.0) -> tuple[int, str, str]:
        """Send ``sig``; (exit code, rest of stdout, stderr). Kills it after ``timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"torchrun-core ui ignored signal {sig} for {timeout}s") from None
        return self.proc.returncode, out, err


def cli_env(state_dir: Path, **extra: str) -> dict[str, str]:
    """This environment, with the given state dir and no other TORCHRUN_CORE_* setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORCHRUN_CORE_")}
    env.update({k: v for k, v in os.environ.items() if k.startswith("TORCHRUN_CORE_TEST_")})
    env["TORCHRUN_CORE_STATE_DIR"] = str(state_dir)
    env["TORCHRUN_CORE_USER_CONFIG_DIR"] = str(state_dir / "no-user-config")
    env.update(extra)
    return env


def cli(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run ``torchrun-core ARGS``; its stdout (fails on a non-zero exit)."""
    done = subprocess.run(
        [sys.executable, "-m", "torchrun_core", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"torchrun-core {' '.join(args)}: {done.stderr}"
    return done.stdout


def wait_until(predicate: object, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
