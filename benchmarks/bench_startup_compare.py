"""Start-up of two installs side by side: bare python, `import torchrun_core`, `--help`, builtins.

Usage: python benchmarks/bench_startup_compare.py BEFORE_VENV AFTER_VENV [--repeat N]

Each round runs every command once in each venv, alternating, so that the
noise of this machine falls on both alike; medians over the rounds. Made for
issue 14 (the regrouping must not slow start-up): build the two venvs from
the two trees, e.g. ``python3 -m venv /tmp/a && /tmp/a/bin/pip install OLD_TREE``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import isolated_state_dir, time_command

COMMANDS = {
    "bare python": ["{py}", "-c", "pass"],
    "import torchrun_core": ["{py}", "-c", "import torchrun_core"],
    "torchrun-core --help": ["{bin}/torchrun-core", "--help"],
    "torchrun-core builtins": ["{bin}/torchrun-core", "builtins"],
    "run --help utils.echo": ["{bin}/torchrun-core", "run", "utils.echo", "--help"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("venvs", type=Path, nargs=2, metavar="VENV")
    parser.add_argument("--repeat", type=int, default=31)
    args = parser.parse_args()
    samples: dict[tuple[str, str], list[float]] = {}
    with isolated_state_dir():
        for _ in range(args.repeat):
            for venv in args.venvs:
                bin_dir = venv / "bin"
                for name, argv in COMMANDS.items():
                    real = [a.format(py=bin_dir / "python", bin=bin_dir) for a in argv]
                    samples.setdefault((str(venv), name), []).extend(time_command(real, 1))
    for name in COMMANDS:
        row = [statistics.median(samples[(str(v), name)]) * 1000 for v in args.venvs]
        print(f"{name:28s} {row[0]:7.1f} ms  {row[1]:7.1f} ms   after/before {row[1] / row[0]:.2f}")


if __name__ == "__main__":
    main()
