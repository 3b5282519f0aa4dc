"""Start-up figures: `import torchrun_core`, `--help`, and `run --wait utils.echo`.

Usage: python benchmarks/bench_startup.py [--repeat N] [--torchx-venv DIR]
With --torchx-venv (a venv holding torchx), TorchX's equivalents run side by side.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import VENV_BIN, isolated_state_dir, median_ms, report, time_command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--torchx-venv", type=Path, default=None)
    args = parser.parse_args()
    py = sys.executable
    cli = str(VENV_BIN / "torchrun-core")
    n = args.repeat

    bare = median_ms(time_command([py, "-c", "pass"], n))
    imp = median_ms(time_command([py, "-c", "import torchrun_core"], n))
    report(
        "import torchrun_core above bare python",
        f"{imp - bare:.1f} ms",
        "<= 25 ms",
        f"bare {bare:.1f} ms",
    )
    helpt = median_ms(time_command([cli, "--help"], n))
    report("torchrun-core --help", f"{helpt:.1f} ms", "<= 100 ms")
    with isolated_state_dir():
        env = dict(os.environ)
        run = median_ms(time_command([cli, "run", "--wait", "utils.echo", "--msg", "hi"], n, env))
    report("run --wait utils.echo, end to end", f"{run:.1f} ms", "<= 250 ms")

    if args.torchx_venv:
        tpy = str(args.torchx_venv / "bin" / "python")
        tcli = str(args.torchx_venv / "bin" / "torchx")
        tbare = median_ms(time_command([tpy, "-c", "pass"], n))
        timp = median_ms(time_command([tpy, "-c", "import torchx.runner"], n))
        report(
            "[torchx] import torchx.runner above bare",
            f"{timp - tbare:.1f} ms",
            "-",
            f"ratio {(timp - tbare) / max(imp - bare, 0.1):.1f}x ours",
        )
        thelp = median_ms(time_command([tcli, "--help"], n))
        report("[torchx] torchx --help", f"{thelp:.1f} ms", "-", f"ratio {thelp / helpt:.1f}x ours")
        trun = median_ms(
            time_command(
                [tcli, "run", "--wait", "-s", "local_cwd", "utils.echo", "--msg", "hi"],
                max(5, n // 3),
            )
        )
        report(
            "[torchx] run --wait utils.echo", f"{trun:.1f} ms", "-", f"ratio {trun / run:.1f}x ours"
        )


if __name__ == "__main__":
    main()
