#!/usr/bin/env bash
# Print every performance figure of the foundation issue (medians).
#
# The figures are taken from a regular (non-editable) install, as a user has
# it: the editable install's import hook adds ~15 ms to every interpreter start.
# The venv is built once in .ci/work/bench-venv (override with BENCH_VENV).
# Optional: TORCHX_VENV=/path/to/venv-with-torchx for TorchX figures side by side
#   (python3 -m venv /tmp/tx && /tmp/tx/bin/pip install torchx==0.7.0).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BENCH_VENV=${BENCH_VENV:-$ROOT/.ci/work/bench-venv}
if [ ! -x "$BENCH_VENV/bin/python" ]; then
    python3 -m venv "$BENCH_VENV"
    "$BENCH_VENV/bin/pip" install --quiet . # with its dependencies, once
fi
"$BENCH_VENV/bin/pip" install --quiet --force-reinstall --no-deps . # this tree's code
rm -rf build
PY=$BENCH_VENV/bin/python
extra=()
if [ -n "${TORCHX_VENV:-}" ]; then extra=(--torchx-venv "$TORCHX_VENV"); fi
# Run from outside the repo so that `import torchrun_core` finds the install.
cd /tmp
"$PY" "$ROOT/benchmarks/bench_startup.py" "${extra[@]}"
"$PY" "$ROOT/benchmarks/bench_runner.py"
"$PY" "$ROOT/benchmarks/bench_list.py"
"$PY" "$ROOT/benchmarks/bench_tracking.py"
"$PY" "$ROOT/benchmarks/bench_components.py" "${extra[@]}"
"$BENCH_VENV/bin/pip" install --quiet "docker>=7" && "$PY" "$ROOT/benchmarks/bench_docker.py" # skips its daemon figures without a daemon
"$BENCH_VENV/bin/pip" install --quiet "kubernetes>=28" && "$PY" "$ROOT/benchmarks/bench_kubernetes.py" # skips its cluster figures without a cluster
"$PY" "$ROOT/benchmarks/bench_kubernetes_field.py" # restarts the test cluster's apiserver; skips without a kubeconfig
"$BENCH_VENV/bin/pip" install --quiet "paramiko>=3.4" && "$PY" "$ROOT/benchmarks/bench_slurm.py" # skips its cluster figures without scripts/engines/slurm.sh's cluster
"$PY" "$ROOT/benchmarks/bench_slurm_field.py" # list of 100 live apps, failure to FAILED, wait after an outage (skips without the cluster)
"$PY" "$ROOT/benchmarks/bench_workspace.py" # workspace images on the test registry (skips without it)
"$BENCH_VENV/bin/pip" install --quiet "starlette>=0.40" "uvicorn>=0.30" "httpx>=0.27" && "$PY" "$ROOT/benchmarks/bench_ui.py" # the dashboard: a real `torchrun-core ui` server
