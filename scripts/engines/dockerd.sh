#!/usr/bin/env bash
# Start or stop a private dockerd for the tests, next to any other daemon.
#
#   bash scripts/engines/dockerd.sh start   # prints its DOCKER_HOST (unix://.../docker.sock)
#   bash scripts/engines/dockerd.sh stop    # stops only this daemon (by its pidfile)
#   bash scripts/engines/dockerd.sh status  # exit 0 when it answers
#
# Everything it owns lives in one directory: its socket, data root, exec root,
# pidfile and log. It uses no default bridge (--bridge=none: the scheduler
# makes a network per app) and its own --default-address-pool, so that two
# daemons on one machine never pick the same subnet or fight over docker0.
# `start` is idempotent: a daemon already answering on the socket is reused.
#
# Environment:
#   TORCHRUN_CORE_DOCKERD_DIR   its directory (default: /tmp/torchrun-core-dockerd; keep it
#                               short: containerd's sockets live under it, and a unix socket
#                               path has at most 107 bytes)
#   TORCHRUN_CORE_DOCKERD_POOL  its address pool (default: base=10.231.0.0/16,size=24)
#   TORCHRUN_CORE_DOCKERD_WAIT  seconds to wait for it to answer (default: 60)
set -euo pipefail

DIR=${TORCHRUN_CORE_DOCKERD_DIR:-/tmp/torchrun-core-dockerd}
POOL=${TORCHRUN_CORE_DOCKERD_POOL:-base=10.231.0.0/16,size=24}
WAIT=${TORCHRUN_CORE_DOCKERD_WAIT:-60}
SOCK=$DIR/docker.sock
PIDFILE=$DIR/dockerd.pid
LOG=$DIR/dockerd.log
HOST=unix://$SOCK

# True when a daemon answers on our socket (an HTTP ping, no docker CLI needed).
answers() {
    [ -S "$SOCK" ] && curl --silent --fail --max-time 2 --unix-socket "$SOCK" \
        http://localhost/_ping >/dev/null 2>&1
}

# The pid in our pidfile, when that process is still a dockerd.
our_pid() {
    local pid
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = dockerd ] || return 1
    echo "$pid"
}

start() {
    if answers; then
        echo "$HOST"
        return 0
    fi
    command -v dockerd >/dev/null || {
        echo "error: dockerd is not installed (apt-get install docker.io iptables)" >&2
        return 1
    }
    if pid=$(our_pid); then # alive but not answering: a hung start; replace it
        kill "$pid" 2>/dev/null || true
        sleep 1
    fi
    mkdir -p "$DIR/data" "$DIR/exec"
    rm -f "$SOCK" "$PIDFILE"
    # setsid: the daemon outlives this script and ignores the caller's Ctrl-C.
    setsid dockerd \
        --host "$HOST" \
        --data-root "$DIR/data" \
        --exec-root "$DIR/exec" \
        --pidfile "$PIDFILE" \
        --default-address-pool "$POOL" \
        --bridge none \
        --iptables=false \
        --ip-masq=false \
        --storage-driver overlay2 \
        >"$LOG" 2>&1 </dev/null &
    local started=$! deadline=$((SECONDS + WAIT))
    until answers; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "error: dockerd did not answer on $SOCK within ${WAIT}s; its log ($LOG):" >&2
            tail -n 20 "$LOG" >&2 || true
            return 1
        fi
        if ! kill -0 "$started" 2>/dev/null; then
            echo "error: dockerd exited while starting; its log ($LOG):" >&2
            tail -n 20 "$LOG" >&2 || true
            return 1
        fi
        sleep 0.2
    done
    echo "$HOST"
}

stop() {
    local pid
    pid=$(our_pid) || return 0 # not running: nothing to stop
    kill "$pid"
    # dockerd stops its containers (up to 15 s each, in parallel) and containerd.
    for _ in $(seq 1 300); do
        [ -d "/proc/$pid" ] || return 0
        sleep 0.1
    done
    echo "warning: dockerd $pid did not stop in 30 s; killing it" >&2
    kill -9 "$pid" 2>/dev/null || true
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) answers ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
