"""Workspace images on a real registry (issue 15): cold build and push, no change, one change.

Usage: python benchmarks/bench_workspace.py [--repeat N] [--registry HOST:PORT]

Needs a docker daemon (DOCKER_HOST, else the private test daemon) with
``torchrun-core/python:3.11``, and the plain test registry
(``bash scripts/engines/registry.sh start``: 127.0.0.1:16500). Times are the
CLI, ``torchrun-core run --scheduler docker --workspace DIR``, from the command
to the app submitted; bytes pushed are what the registry's storage grew by.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import VENV_BIN, isolated_state_dir, report

TEST_DOCKER_HOST = "unix:///tmp/torchrun-core-dockerd/docker.sock"
REGISTRY_DATA = Path(
    os.environ.get("TORCHRUN_CORE_REGISTRY_DIR", "/tmp/torchrun-core-registry"), "plain", "data"
)
IMAGE = "torchrun-core/python:3.11"


def registry_bytes() -> int:
    """Bytes the plain test registry stores (blobs and all)."""
    return sum(p.stat().st_size for p in REGISTRY_DATA.rglob("*") if p.is_file())


def make_workspace(root: Path, files: int = 40) -> None:
    """A small project: a program and some modules (~200 KiB)."""
    root.mkdir(parents=True)
    (root / "main.py").write_text("import sys\nprint('hello from the workspace', sys.argv[1:])\n")
    for i in range(files):
        (root / f"mod_{i:03d}.py").write_text(f"# module {i}\n" + "X = 1\n" * 800)


def run_once(workspace: Path, repo: str) -> float:
    """Seconds of one ``run --workspace`` (the app is submitted, not awaited)."""
    argv = [
        str(VENV_BIN / "torchrun-core"), "run", "--scheduler", "docker",
        "--cfg", f"image_repo={repo}", "--workspace", str(workspace),
        "utils.python", "--image", IMAGE, "--script", "main.py",
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--registry", default="127.0.0.1:16500")
    args = parser.parse_args()
    os.environ.setdefault("DOCKER_HOST", TEST_DOCKER_HOST)
    if not REGISTRY_DATA.is_dir():
        print(f"workspace figures skipped: no test registry data at {REGISTRY_DATA}")
        return
    cold, unchanged, changed, changed_bytes = [], [], [], []
    with isolated_state_dir() as state:
        for n in range(args.repeat):
            repo = f"{args.registry}/bench/ws-{uuid.uuid4().hex[:8]}"
            ws = state / f"ws{n}"
            make_workspace(ws)
            cold.append(run_once(ws, repo))  # build and push: every layer new to this repo
            unchanged.append(run_once(ws, repo))  # same content: no build, no push
            (ws / "main.py").write_text(f"print('changed {n}')\n")
            before = registry_bytes()
            changed.append(run_once(ws, repo))
            changed_bytes.append(registry_bytes() - before)
    note = f"median of {args.repeat}; a 41-file workspace (~200 KiB) on {IMAGE}"
    report("workspace: cold build and push", f"{statistics.median(cold):.2f} s", "report", note)
    report(
        "workspace: second run, no change (no build, no push)",
        f"{statistics.median(unchanged):.2f} s", "report", "command to submitted",
    )  # fmt: skip
    report(
        "workspace: one changed file, build and push",
        f"{statistics.median(changed):.2f} s", "report",
        f"registry grew {statistics.median(changed_bytes) / 1024:.0f} KiB "
        "(the workspace layer and a manifest; the base image's layers were there)",
    )  # fmt: skip


if __name__ == "__main__":
    main()
