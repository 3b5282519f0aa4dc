"""Shared bits of the benchmark scripts: timing, medians, an isolated state dir."""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000


def time_call(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall seconds of ``repeat`` calls of ``fn``."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def time_command(
    argv: Sequence[str], repeat: int, env: dict[str, str] | None = None
) -> list[float]:
    """Wall seconds of ``repeat`` runs of a command (output discarded, must exit 0)."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(
            argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        out.append(time.perf_counter() - start)
    return out


@contextlib.contextmanager
def isolated_state_dir() -> Iterator[Path]:
    """A fresh TORCHRUN_CORE_STATE_DIR for the duration of a benchmark."""
    path = Path(tempfile.mkdtemp(prefix="trc-bench-"))
    old = os.environ.get("TORCHRUN_CORE_STATE_DIR")
    os.environ["TORCHRUN_CORE_STATE_DIR"] = str(path)
    try:
        yield path
    finally:
        if old is None:
            os.environ.pop("TORCHRUN_CORE_STATE_DIR", None)
        else:
            os.environ["TORCHRUN_CORE_STATE_DIR"] = old
        shutil.rmtree(path, ignore_errors=True)


def report(figure: str, value: str, target: str, note: str = "") -> None:
    """One result line: figure, measured median, target."""
    extra = f"  ({note})" if note else ""
    print(f"{figure:<52} {value:>14}   target {target}{extra}", flush=True)


def report_seconds(figure: str, samples: Sequence[float], note: str = "") -> None:
    """One result line for a figure in seconds: the median of ``samples``."""
    report(figure, f"{statistics.median(samples):.1f} s", "report", note)


def engine_command(script: Path, command: str) -> None:
    """``bash <script> <command>``: an engine script's fault command; it must succeed."""
    subprocess.run(["bash", str(script), command], check=True, capture_output=True)
