"""Run the real ``torchrun-core`` command in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

CliRunner = Callable[..., subprocess.CompletedProcess[str]]


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """``python -m torchrun_core *args`` with this test's environment (and so its state dir)."""
    return subprocess.run(
        [sys.executable, "-m", "torchrun_core", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        check=False,
    )


def error_lines(stderr: str) -> list[str]:
    """The ``error: ...`` lines of a stderr text."""
    return [line for line in stderr.splitlines() if line.startswith("error:")]
