#!/usr/bin/env bash
# Start or stop a private dockerd for the tests, next to any other daemon.
#
#   bash scripts/engines/dockerd.sh start   # prints its DOCKER_HOST (unix://.../docker.sock)
#   bash scripts/engines/dockerd.sh stop    # stops only this daemon (by its pidfile)
#   bash scripts/engines/dockerd.sh status  # exit 0 when it answers
#
# Everything it owns lives in one directory: its socket, data root, exec root,
# pidfile and log. Its default bridge is its own (trcbr0, created here, never
# docker0) and it has its own --default-address-pool, so that two daemons on
# one machine never pick the same subnet or fight over docker0. The docker
# scheduler makes a network per app; the default bridge is for the test
# cluster's kubelet, whose pods (dockershim, no CNI) take their IP from it.
# `start` is idempotent: a daemon already answering on the socket is reused.
#
# Environment:
#   TORCHRUN_CORE_DOCKERD_DIR   its directory (default: /tmp/torchrun-core-dockerd; keep it
#                               short: containerd's sockets live under it, and a unix socket
#                               path has at most 107 bytes)
#   TORCHRUN_CORE_DOCKERD_POOL  its address pool (default: base=10.231.0.0/16,size=24)
#   TORCHRUN_CORE_DOCKERD_WAIT  seconds to wait for it to answer (default: 60)
#   TORCHRUN_CORE_DOCKERD_BRIDGE       its bridge (default: trcbr0; removed by stop when
#                                      start created it)
#   TORCHRUN_CORE_DOCKERD_BRIDGE_CIDR  the bridge's address (default: 10.232.0.1/24)
set -euo pipefail

DIR=${TORCHRUN_CORE_DOCKERD_DIR:-/tmp/torchrun-core-dockerd}
POOL=${TORCHRUN_CORE_DOCKERD_POOL:-base=10.231.0.0/16,size=24}
WAIT=${TORCHRUN_CORE_DOCKERD_WAIT:-60}
SOCK=$DIR/docker.sock
PIDFILE=$DIR/dockerd.pid
LOG=$DIR/dockerd.log
HOST=unix://$SOCK
BRIDGE=${TORCHRUN_CORE_DOCKERD_BRIDGE:-trcbr0}
BRIDGE_CIDR=${TORCHRUN_CORE_DOCKERD_BRIDGE_CIDR:-10.232.0.1/24}
BRIDGE_MARK=$DIR/bridge.created

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

# Our bridge, made once (marked, so that stop removes only a bridge we made).
make_bridge() {
    ip link show "$BRIDGE" >/dev/null 2>&1 && return 0
    ip link add "$BRIDGE" type bridge &&
        ip addr add "$BRIDGE_CIDR" dev "$BRIDGE" &&
        ip link set "$BRIDGE" up &&
        touch "$BRIDGE_MARK"
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
    make_bridge || {
        echo "error: cannot create the bridge $BRIDGE ($BRIDGE_CIDR); needs root and iproute2" >&2
        return 1
    }
    # setsid: the daemon outlives this script and ignores the caller's Ctrl-C.
    setsid dockerd \
        --host "$HOST" \
        --data-root "$DIR/data" \
        --exec-root "$DIR/exec" \
        --pidfile "$PIDFILE" \
        --default-address-pool "$POOL" \
        --bridge "$BRIDGE" \
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

remove_bridge() {
    [ -e "$BRIDGE_MARK" ] || return 0
    ip link del "$BRIDGE" 2>/dev/null || true
    rm -f "$BRIDGE_MARK"
}

stop() {
    local pid
    pid=$(our_pid) || {
        remove_bridge
        return 0 # not running: nothing else to stop
    }
    kill "$pid"
    # dockerd stops its containers (up to 15 s each, in parallel) and containerd.
    for _ in $(seq 1 300); do
        if [ ! -d "/proc/$pid" ]; then
            remove_bridge
            return 0
        fi
        sleep 0.1
    done
    echo "warning: dockerd $pid did not stop in 30 s; killing it" >&2
    kill -9 "$pid" 2>/dev/null || true
    remove_bridge
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
