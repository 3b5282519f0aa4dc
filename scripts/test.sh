#!/usr/bin/env bash
# The project's test command (README, .ci/run): set up a venv, then lint,
# type-check, build the docs and run the tests. Extra arguments go to pytest,
# e.g. `bash scripts/test.sh -k plugins -x`.
#
# Environment:
#   PYTHON   interpreter that creates the venv (default: python3; must be >= 3.10)
#   VENV     venv to create or reuse (default: <repo>/.venv)
#   CI=true  integration tests fail (instead of skipping) when their engine is missing
#   TORCH_INSTALL=0  do not install torch==2.13.0 (the CPU build) for the real DDP test
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-python3}
VENV=${VENV:-$ROOT/.venv}
WORK=$ROOT/.ci/work # scratch space: wheel, mypy copy, docs site (git-ignored)
PY=$VENV/bin/python
mkdir -p "$WORK"

section() { printf '\n==> %s\n' "$*"; }

# apt_install PKG...: install these Debian packages (no recommends) when
# running as root with apt-get, refreshing the package lists once per run;
# otherwise warn (their tests then skip, or fail under CI=true).
APT_UPDATED=0
apt_install() {
    [ "$#" -gt 0 ] || return 0
    section "apt-get install $*"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        if [ "$APT_UPDATED" = 0 ]; then
            apt-get update -qq >/dev/null
            APT_UPDATED=1
        fi
        apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    else
        echo "warning: cannot install $* (needs root and apt-get)" >&2
    fi
}

# --- system packages ---------------------------------------------------------
# Nothing yet. Later issues install their engines' Debian packages here
# (docker.io, slurm, ...) when CI=true or when they are missing.

# --- venv and Python packages ------------------------------------------------
section "venv: $VENV"
if [ ! -x "$PY" ]; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
        echo "error: $PYTHON is older than Python 3.10" >&2
        exit 1
    }
    "$PYTHON" -m venv "$VENV"
fi
"$PY" --version

# Re-install only when what the install depends on changed: the stamp hashes
# pyproject.toml, the build hook that vendors the dashboard's chart library
# (setup.py, scripts/vendor_ui_assets.py) and the example plugin's sources.
# A missing vendored file (a fresh clone: they are not in git) re-installs too.
install_key() {
    {
        cat pyproject.toml setup.py scripts/vendor_ui_assets.py
        find tests/plugin_dist -name build -prune -o -name '*.egg-info' -prune \
            -o -type f ! -name '*.pyc' -print | LC_ALL=C sort | xargs cat
    } | sha256sum | cut -d' ' -f1
}
STAMP=$VENV/.torchrun-core-test-install
if [ "$(cat "$STAMP" 2>/dev/null)" != "$(install_key)" ] ||
    [ ! -f torchrun_core/ui/static/vendor/uplot/uPlot.iife.min.js ]; then
    section "install: -e .[dev], tests/plugin_dist"
    "$PY" -m pip install --quiet --upgrade pip
    "$PY" -m pip install --quiet -e '.[dev]'
    # The example plugin is a separate distribution installed like any
    # third-party package (not editable). --no-deps: its only dependency,
    # torchrun-core, is the editable install above, and must not be fetched.
    "$PY" -m pip install --quiet --no-deps --force-reinstall ./tests/plugin_dist
    install_key >"$STAMP"
else
    section "install: up to date ($STAMP)"
fi

# --- torch: the real distributed job (tests/components/test_dist_torch.py) -------------
# The CPU build of PyTorch comes from a wheel already on these machines (pip's
# find-links), so the spec must be exactly torch==2.13.0: any other version,
# or a bare `torch`, would download gigabytes. Cached: skipped when that
# version already imports. TORCH_INSTALL=0 skips it (the torch tests then skip,
# or fail under CI=true).
TORCH_VERSION=2.13.0
if [ "${TORCH_INSTALL:-1}" = 0 ]; then
    section "torch: not installed (TORCH_INSTALL=0)"
elif "$PY" -c "import torch; assert torch.__version__.startswith('$TORCH_VERSION')" 2>/dev/null; then
    section "torch $TORCH_VERSION: installed"
else
    section "install: torch==$TORCH_VERSION (CPU build)"
    "$PY" -m pip install --quiet "torch==$TORCH_VERSION"
fi

# --- engines -----------------------------------------------------------------
# Each engine is started here and its address exported for its tests, which
# skip without it (and fail under CI=true).
#
# docker: a private dockerd (own socket, data root, exec root, pidfile and
# address pool; scripts/engines/dockerd.sh) and base images built locally with
# no registry (scripts/engines/docker-images.sh). Its Debian packages are
# installed when missing. Only a daemon started here is stopped at exit.
docker_packages=()
command -v dockerd >/dev/null || docker_packages+=(docker.io)
command -v iptables >/dev/null || docker_packages+=(iptables)
command -v ip >/dev/null || docker_packages+=(iproute2) # the test dockerd's own bridge
dpkg -s busybox-static >/dev/null 2>&1 || docker_packages+=(busybox-static)
apt_install "${docker_packages[@]}"
section "engine: dockerd"
DOCKERD_SH=$ROOT/scripts/engines/dockerd.sh
if bash "$DOCKERD_SH" status; then
    docker_host=$(bash "$DOCKERD_SH" start) # already running: reuse it, leave it running
else
    if docker_host=$(bash "$DOCKERD_SH" start); then
        trap 'bash "$DOCKERD_SH" stop' EXIT
    fi
fi
if [ -n "${docker_host:-}" ] && DOCKER_HOST=$docker_host bash scripts/engines/docker-images.sh; then
    export TORCHRUN_CORE_TEST_DOCKER_HOST=$docker_host
    echo "$docker_host"
else
    echo "warning: no docker engine: the docker tests skip (and fail under CI=true)" >&2
fi

# PREV_EXIT_TRAP: the command of the EXIT trap set so far (":" for none).
previous_exit_trap() {
    local current
    current=$(trap -p EXIT)
    current=${current#trap -- }
    eval "set -- ${current% EXIT}"
    PREV_EXIT_TRAP=${1:-:}
}

# registry: two container registries on 127.0.0.1 (Debian's docker-registry,
# CNCF distribution; scripts/engines/registry.sh): one plain, one with htpasswd
# auth whose password stays in a 0600 file. The test dockerd pushes to them
# over plain HTTP (allowed on loopback). Their Debian packages are installed
# when missing. Only registries started here are stopped at exit (their EXIT
# trap runs before the ones set above).
registry_packages=()
command -v docker-registry >/dev/null || registry_packages+=(docker-registry)
command -v htpasswd >/dev/null || registry_packages+=(apache2-utils)
apt_install "${registry_packages[@]}"
section "engine: registry (plain and htpasswd, on 127.0.0.1)"
REGISTRY_SH=$ROOT/scripts/engines/registry.sh
if registry_env=$(bash "$REGISTRY_SH" status); then
    : # already running: reuse it, leave it running
else
    # Trap first: a failed start may have left one of the two running.
    # Its own copy: PREV_EXIT_TRAP is overwritten by the next engine's trap.
    previous_exit_trap
    REGISTRY_PREV_EXIT_TRAP=$PREV_EXIT_TRAP
    trap 'bash "$REGISTRY_SH" stop; eval "$REGISTRY_PREV_EXIT_TRAP"' EXIT
    registry_env=$(bash "$REGISTRY_SH" start) || registry_env=""
fi
if [ -n "$registry_env" ]; then
    while IFS= read -r registry_line; do export "${registry_line?}"; done <<<"$registry_env"
    echo "$registry_env" # addresses, user and the password's file: never the password
else
    echo "warning: no test registries: their tests skip (and fail under CI=true)" >&2
fi

# browser: the dashboard's tests (tests/ui/test_ui_browser.py) drive Debian's
# headless Chromium through its chromedriver (selenium); nothing is downloaded.
# fonts-liberation: text in the screenshots. Screenshots go to the work dir.
browser_packages=()
[ -x /usr/bin/chromium ] || browser_packages+=(chromium)
[ -x /usr/bin/chromedriver ] || browser_packages+=(chromium-driver)
dpkg -s fonts-liberation >/dev/null 2>&1 || browser_packages+=(fonts-liberation)
apt_install "${browser_packages[@]}"
section "browser: $(/usr/bin/chromium --version 2>/dev/null || echo 'none: its tests skip (fail under CI=true)')"
export TORCHRUN_CORE_TEST_SCREENSHOTS=${TORCHRUN_CORE_TEST_SCREENSHOTS:-$WORK/screenshots}

# slurm: 2-node clusters on this host (munged, slurmctld, two slurmd, and
# slurmdbd on a private mariadbd for sacct) reached
# through an sshd on 127.0.0.1 (key-only, an unprivileged test user with a plain
# shell; scripts/engines/slurm.sh). Its Debian packages are installed when
# missing. Only a cluster started here is stopped at exit (its EXIT trap runs
# before the ones set above).
slurm_packages=()
command -v slurmctld >/dev/null || [ -x /usr/sbin/slurmctld ] || slurm_packages+=(slurmctld)
command -v slurmd >/dev/null || [ -x /usr/sbin/slurmd ] || slurm_packages+=(slurmd)
command -v sbatch >/dev/null || slurm_packages+=(slurm-client)
[ -x /usr/sbin/munged ] || slurm_packages+=(munge)
[ -x /usr/sbin/sshd ] || slurm_packages+=(openssh-server)
[ -x /usr/sbin/slurmdbd ] || slurm_packages+=(slurmdbd)  # with mariadb: sacct
[ -x /usr/sbin/mariadbd ] || slurm_packages+=(mariadb-server)
apt_install "${slurm_packages[@]}"
SLURM_SH=$ROOT/scripts/engines/slurm.sh
# Two clusters at once, each its own daemons and ports: "site" (tuned for the
# tests) and "stock" (Slurm's defaults where they matter: proctrack/pgid, no
# job_comment in accounting, short MinJobAge); tests/schedulers/slurm runs on both. The
# stock one's variables are TORCHRUN_CORE_TEST_SLURM_STOCK_*. One EXIT trap
# stops the profiles started here (a failed start too: it may have left some
# daemons), then runs the traps set before it.
SLURM_STARTED=()
stop_started_slurm() {
    local profile
    for profile in "${SLURM_STARTED[@]}"; do
        TORCHRUN_CORE_SLURM_PROFILE=$profile bash "$SLURM_SH" stop || true
    done
}
for slurm_profile in site stock; do
    section "engine: slurm $slurm_profile (2 nodes, sshd on 127.0.0.1)"
    export TORCHRUN_CORE_SLURM_PROFILE=$slurm_profile
    if slurm_env=$(bash "$SLURM_SH" status); then
        : # already running: reuse it, leave it running
    else
        if [ "${#SLURM_STARTED[@]}" -eq 0 ]; then
            slurm_prev_exit=$(trap -p EXIT)
            slurm_prev_exit=${slurm_prev_exit#trap -- }
            eval "SLURM_PREV_EXIT_TRAP=${slurm_prev_exit% EXIT}"
            trap 'stop_started_slurm; eval "${SLURM_PREV_EXIT_TRAP:-:}"' EXIT
        fi
        SLURM_STARTED+=("$slurm_profile")
        slurm_env=$(bash "$SLURM_SH" start) || slurm_env=""
    fi
    unset TORCHRUN_CORE_SLURM_PROFILE
    if [ -n "$slurm_env" ]; then
        while IFS= read -r slurm_line; do export "${slurm_line?}"; done <<<"$slurm_env"
        echo "$slurm_env" | grep -E '_(PORT|CONF)='
    else
        echo "warning: no slurm $slurm_profile cluster: the slurm tests skip (and fail under CI=true)" >&2
    fi
done

# kubernetes: a loopback v1.20.2 cluster (scripts/engines/k8s.sh: etcd from
# Debian's etcd-server, apiserver with a token file, controller-manager,
# scheduler, and a kubelet running pods on the test dockerd above), from the
# binaries in TORCHRUN_CORE_K8S_BINARIES (default: ../shared/k8s). Started only
# when the docker engine is up; only a cluster started here is stopped at exit
# (its EXIT trap runs before the ones set above).
K8S_SH=$ROOT/scripts/engines/k8s.sh
export TORCHRUN_CORE_K8S_BINARIES=${TORCHRUN_CORE_K8S_BINARIES:-$ROOT/../shared/k8s}
if [ -n "${TORCHRUN_CORE_TEST_DOCKER_HOST:-}" ]; then
    command -v etcd >/dev/null || apt_install etcd-server
    section "engine: kubernetes (loopback test cluster)"
    export DOCKER_HOST=$TORCHRUN_CORE_TEST_DOCKER_HOST
    if bash "$K8S_SH" status; then
        kubeconfig=$(bash "$K8S_SH" start) # already running: reuse it, leave it running
    elif kubeconfig=$(bash "$K8S_SH" start); then
        # Combine with the dockerd's EXIT trap: the cluster stops first.
        previous_exit_trap
        trap 'bash "$K8S_SH" stop; eval "$PREV_EXIT_TRAP"' EXIT
    fi
    if [ -n "${kubeconfig:-}" ]; then
        export TORCHRUN_CORE_TEST_KUBECONFIG=$kubeconfig
        echo "$kubeconfig"
    else
        echo "warning: no kubernetes cluster: its tests skip (and fail under CI=true)" >&2
    fi
else
    echo "warning: no docker engine, so no kubernetes cluster: its tests skip" >&2
fi

# --- lint ----------------------------------------------------------------------
section "ruff check"
"$VENV/bin/ruff" check .
section "ruff format --check"
"$VENV/bin/ruff" format --check .

# --- types ---------------------------------------------------------------------
# mypy cannot type-check the editable install as it is: setuptools maps
# schedulers/ and components/ to torchrun_core.schedulers and
# torchrun_core.components through an import hook (a sys.meta_path finder),
# and mypy resolves modules from directories only, so it would never see them
# as part of torchrun_core. Instead we build the wheel from this tree, unpack
# it, and run mypy inside that copy, where torchrun_core/schedulers and
# torchrun_core/components are real directories. This checks exactly what a
# user installs. Messages are mapped back to the source paths
# (torchrun_core/schedulers/x.py -> schedulers/x.py). The example plugin is
# checked from its sources too, since docs/plugins.md shows it as the example.
section "build the wheel"
# setuptools copies modules into build/lib and never removes them there, so a
# module deleted from the tree would live on in the wheel: start clean.
rm -rf "$ROOT/build" "$WORK/dist" "$WORK/mypy-site"
"$PY" -m build --wheel --outdir "$WORK/dist" . >"$WORK/build.log" 2>&1 || {
    cat "$WORK/build.log" >&2
    exit 1
}
WHEEL=$(ls "$WORK"/dist/torchrun_core-*.whl)
echo "$WHEEL"
export TORCHRUN_CORE_TEST_WHEEL=$WHEEL # tests/test_packaging.py installs this one
"$PY" -m zipfile -e "$WHEEL" "$WORK/mypy-site"

section "mypy --strict: torchrun_core, schedulers, components, example plugin"
(
    cd "$WORK/mypy-site"
    MYPYPATH=$ROOT/tests/plugin_dist/src "$VENV/bin/mypy" \
        --config-file "$ROOT/pyproject.toml" --cache-dir "$WORK/mypy-cache" \
        -p torchrun_core -p torchrun_core_example_plugin
) | sed -E -e 's#^torchrun_core/(schedulers|components)/#\1/#' -e "s#^$ROOT/##"

# --- layering --------------------------------------------------------------------
# import-linter checks the contracts in .importlinter (cli above the runner, the
# runner above the SPI, specs and store; backends independent; no cycles) on the
# same unpacked wheel, where torchrun_core.schedulers and .components are real
# directories. tests/test_layering.py also shows a violation failing it.
section "lint-imports: .importlinter"
(
    cd "$WORK/mypy-site"
    PYTHONPATH=$WORK/mypy-site "$VENV/bin/lint-imports" --no-cache "$ROOT/.importlinter"
)

# --- docs ----------------------------------------------------------------------
section "mkdocs build --strict"
NO_MKDOCS_2_WARNING=1 "$VENV/bin/mkdocs" build --strict --quiet --site-dir "$WORK/site"

# --- tests ---------------------------------------------------------------------
section "pytest"
status=0
"$PY" -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "error: pytest collected no tests" >&2
    exit 1
fi
exit "$status"
