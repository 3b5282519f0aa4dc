"""Component figures: `run FILE:fn --help`, `builtins`, and materialising a component.

Usage: python benchmarks/bench_components.py [--repeat N] [--torchx-venv DIR]
With --torchx-venv (a venv holding torchx), `torchx builtins` runs side by side.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import VENV_BIN, isolated_state_dir, median_ms, report, time_command

# A typical file component: it imports AppDef (and so pydantic) when run.
COMPONENT_FILE = '''\
from torchrun_core import AppDef, Role


def train(script: str, *args: str, nodes: int = 1, lr: float = 0.01,
          env: dict[str, str] | None = None, verbose: bool = False) -> AppDef:
    """Train a model.

    Args:
        script: the training script
        args: its arguments
        nodes: how many nodes
        lr: the learning rate
        env: extra environment variables
        verbose: log more
    """
    role = Role(name="train", entrypoint="python", args=[script, *args],
                num_replicas=nodes, env=env or {})
    return AppDef(name="train", roles=[role])
'''


def cpu_ms(argv: list[str], repeat: int) -> float:
    """Median CPU time (user + sys) of a command, in ms: unlike wall time, it hardly
    depends on what else the machine is doing."""
    samples = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        samples.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return median_ms(samples)


def bench_file_help(cli: str, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "my_component.py"
        path.write_text(COMPONENT_FILE)
        argv = [cli, "run", f"{path}:train", "--help"]
        ms = median_ms(time_command(argv, repeat))
        cpu = cpu_ms(argv, repeat)
    report("run FILE:fn --help (cold process)", f"{ms:.1f} ms", "<= 120 ms", f"cpu {cpu:.1f} ms")


def bench_builtins(cli: str, repeat: int, torchx_venv: Path | None) -> None:
    ms = median_ms(time_command([cli, "builtins"], repeat))
    cpu = cpu_ms([cli, "builtins"], repeat)
    report("builtins", f"{ms:.1f} ms", "<= 150 ms", f"cpu {cpu:.1f} ms")
    if torchx_venv is not None:
        theirs = median_ms(time_command([str(torchx_venv / "bin" / "torchx"), "builtins"], repeat))
        report(
            "[torchx] torchx builtins", f"{theirs:.1f} ms", "-", f"ratio {theirs / ms:.1f}x ours"
        )


def _per_call_ms(component: str, args: list[str], calls: int, rounds: int) -> float:
    """Median over ``rounds`` of the mean time of ``calls`` build_app calls, in ms."""
    from torchrun_core.component_loading.loader import build_app

    build_app(component, args)  # load, parse and cache it first
    means = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            build_app(component, args)
        means.append((time.perf_counter() - start) / calls)
    return statistics.median(means) * 1000


def bench_materialise(calls: int = 1000, rounds: int = 7) -> None:
    builtin = _per_call_ms("utils.echo", ["--msg", "hi", "--num_replicas", "2"], calls, rounds)
    report(f"build_app(utils.echo), {calls} calls", f"{builtin:.3f} ms/call", "<= 0.2 ms")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "my_component.py"
        path.write_text(COMPONENT_FILE)
        args = ["--script", "t.py", "--nodes", "2", "--env", "A=1,B=2", "--", "--epochs", "3"]
        in_file = _per_call_ms(f"{path}:train", args, calls, rounds)
    report(f"build_app(FILE:train), {calls} calls", f"{in_file:.3f} ms/call", "<= 0.2 ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--torchx-venv", type=Path, default=None)
    args = parser.parse_args()
    cli = str(VENV_BIN / "torchrun-core")
    with isolated_state_dir():
        bench_file_help(cli, args.repeat)
        bench_builtins(cli, args.repeat, args.torchx_venv)
        bench_materialise()


if __name__ == "__main__":
    main()
