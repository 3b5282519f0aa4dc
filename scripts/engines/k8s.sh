#!/usr/bin/env bash
# Start or stop a loopback Kubernetes v1.20.2 test cluster: etcd (Debian's
# etcd-server), kube-apiserver with a token file, kube-controller-manager,
# kube-scheduler and a kubelet whose pods run on the project's private test
# dockerd (scripts/engines/dockerd.sh), with a locally built pause image.
#
#   DOCKER_HOST=unix:///...sock bash scripts/engines/k8s.sh start  # prints its kubeconfig path
#   bash scripts/engines/k8s.sh stop     # stops only what `start` started (by pidfiles)
#   bash scripts/engines/k8s.sh status   # exit 0 when the apiserver is ready and the node Ready
#   bash scripts/engines/k8s.sh stop-apiserver      # fault tests: the apiserver alone goes away
#   bash scripts/engines/k8s.sh start-apiserver     # ...and comes back (returns once ready)
#   bash scripts/engines/k8s.sh restart-apiserver 30  # both, 30 s apart
#
# `start` is idempotent: a cluster that is already up is reused. Everything
# lives in one directory: binaries, etcd data, certificates, token file,
# kubeconfig, pidfiles and logs. Nothing listens beyond 127.0.0.1.
#
# Environment:
#   TORCHRUN_CORE_K8S_BINARIES  directory holding kubernetes-1.20.2-linux-amd64.tar.xz or the
#                               four binaries (default: <repo>/../shared/k8s)
#   TORCHRUN_CORE_K8S_DIR       its directory (default: /tmp/torchrun-core-k8s)
#   TORCHRUN_CORE_K8S_PORT      the apiserver's port (default: 16443); etcd uses 23790/23800
#   TORCHRUN_CORE_K8S_WAIT      seconds to wait for readiness (default: 90)
#   DOCKER_HOST                 the test dockerd the kubelet uses (required by start)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SRC=${TORCHRUN_CORE_K8S_BINARIES:-$ROOT/../shared/k8s}
DIR=${TORCHRUN_CORE_K8S_DIR:-/tmp/torchrun-core-k8s}
PORT=${TORCHRUN_CORE_K8S_PORT:-16443}
WAIT=${TORCHRUN_CORE_K8S_WAIT:-90}
ETCD_PORT=23790
ETCD_PEER=23800
PAUSE_IMAGE=torchrun-core/pause:local
BASE_IMAGE=${TORCHRUN_CORE_BUSYBOX_IMAGE:-torchrun-core/busybox:latest}
BIN=$DIR/bin
KUBECONFIG_FILE=$DIR/kubeconfig
TOKEN_FILE=$DIR/tokens.csv
# Started last to first is the stop order's reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet)

token() { cat "$DIR/token" 2>/dev/null; }

apiserver_ready() {
    [ -s "$DIR/token" ] && curl --silent --fail --insecure --max-time 2 \
        -H "Authorization: Bearer $(token)" "https://127.0.0.1:$PORT/readyz" >/dev/null 2>&1
}

node_ready() {
    curl --silent --fail --insecure --max-time 2 -H "Authorization: Bearer $(token)" \
        "https://127.0.0.1:$PORT/api/v1/nodes" 2>/dev/null | grep -q '"reason": "KubeletReady"'
}

# The pid in a component's pidfile, when that process still runs that binary.
our_pid() {
    local pid
    pid=$(cat "$DIR/$1.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 1
    case "$(cat "/proc/$pid/comm")" in "${1:0:15}"*) echo "$pid" ;; *) return 1 ;; esac
}

wait_for() { # wait_for <what> <command...>
    local what=$1 deadline=$((SECONDS + WAIT))
    shift
    until "$@"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "error: $what not ready within ${WAIT}s; logs in $DIR/*.log" >&2
            return 1
        fi
        sleep 0.3
    done
}

launch() { # launch <name> <binary> <args...>: in the background, own session, pidfile
    local name=$1
    shift
    if our_pid "$name" >/dev/null; then return 0; fi
    setsid "$@" >"$DIR/$name.log" 2>&1 </dev/null &
    echo $! >"$DIR/$name.pid"
}

binaries() {
    [ -x "$BIN/kubelet" ] && return 0
    mkdir -p "$BIN"
    if [ -f "$SRC/kubernetes-1.20.2-linux-amd64.tar.xz" ]; then
        tar -xJf "$SRC/kubernetes-1.20.2-linux-amd64.tar.xz" -C "$BIN"
    elif [ -x "$SRC/kubelet" ]; then
        cp "$SRC"/kube-apiserver "$SRC"/kube-controller-manager "$SRC"/kube-scheduler \
            "$SRC"/kubelet "$BIN"/
    else
        echo "error: no Kubernetes binaries in $SRC (set TORCHRUN_CORE_K8S_BINARIES)" >&2
        return 1
    fi
    # The archive may keep its files in a subdirectory.
    find "$BIN" -mindepth 2 -type f -name 'kube*' -exec mv {} "$BIN"/ \;
}

# The kubeconfig trusts the apiserver's self-signed certificate once it exists
# (insecure until then: only curl, with --insecure, reads it before).
kubeconfig() {
    local tls="insecure-skip-tls-verify: true"
    [ -s "$DIR/certs/apiserver.crt" ] && tls="certificate-authority: $DIR/certs/apiserver.crt"
    cat >"$KUBECONFIG_FILE" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: "https://127.0.0.1:$PORT", $tls}
users:
- name: admin
  user: {token: "$(token)"}
contexts:
- name: test
  context: {cluster: test, user: admin, namespace: default}
current-context: test
KCFG
    chmod 600 "$KUBECONFIG_FILE"
}

credentials() {
    [ -s "$DIR/token" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/token"
    echo "$(token),admin,admin,system:masters" >"$TOKEN_FILE"
    [ -s "$DIR/sa.key" ] || openssl genrsa -out "$DIR/sa.key" 2048 2>/dev/null
    kubeconfig
    chmod 600 "$DIR/token" "$TOKEN_FILE"
}

pause_image() {
    docker image inspect "$PAUSE_IMAGE" >/dev/null 2>&1 && return 0
    local ctx
    ctx=$(mktemp -d)
    # A pod's sandbox only has to live until it is stopped, and exit on TERM.
    printf '%s\n' "FROM $BASE_IMAGE" \
        'ENTRYPOINT ["/bin/sh", "-c", "trap \"exit 0\" TERM INT; while :; do sleep 3600 & wait $!; done"]' \
        >"$ctx/Dockerfile"
    DOCKER_BUILDKIT=0 docker build -q -t "$PAUSE_IMAGE" "$ctx" >/dev/null
    rm -rf "$ctx"
}

apiserver() {
    launch kube-apiserver "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
        --secure-port "$PORT" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
        --cert-dir "$DIR/certs" --token-auth-file "$TOKEN_FILE" \
        --authorization-mode AlwaysAllow --disable-admission-plugins ServiceAccount \
        --service-account-key-file "$DIR/sa.key" --service-account-signing-key-file "$DIR/sa.key" \
        --service-account-issuer https://kubernetes.default.svc \
        --service-cluster-ip-range 10.96.0.0/16 \
        --kubelet-preferred-address-types InternalIP,Hostname
}

control_plane() {
    launch etcd etcd --name torchrun-core-test --data-dir "$DIR/etcd" \
        --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" \
        --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
        --initial-cluster "torchrun-core-test=http://127.0.0.1:$ETCD_PEER"
    apiserver
    wait_for kube-apiserver apiserver_ready
    kubeconfig
    launch kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig "$KUBECONFIG_FILE" \
        --leader-elect=false --secure-port=0 --port=0 \
        --service-account-private-key-file "$DIR/sa.key" \
        --controllers='*,-nodeipam,-cloud-node-lifecycle,-service,-route,-attachdetach,-persistentvolume-binder,-persistentvolume-expander,-pvc-protection,-pv-protection,-ttl,-bootstrapsigner,-tokencleaner'
    launch kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$KUBECONFIG_FILE" \
        --leader-elect=false --secure-port=0 --port=0
}

kubelet() {
    launch kubelet "$BIN/kubelet" --kubeconfig "$KUBECONFIG_FILE" \
        --container-runtime=docker --docker-endpoint="$DOCKER_HOST" \
        --pod-infra-container-image="$PAUSE_IMAGE" \
        --cgroup-driver=cgroupfs --fail-swap-on=false --node-ip=127.0.0.1 --address=127.0.0.1 \
        --cgroups-per-qos=false --enforce-node-allocatable= --eviction-hard= \
        --image-gc-high-threshold=100 --anonymous-auth=true --authorization-mode=AlwaysAllow \
        --read-only-port=0 --healthz-port=0 --port=10350 \
        --root-dir "$DIR/kubelet" --cert-dir "$DIR/kubelet-certs"
}

start() {
    if apiserver_ready && node_ready; then
        echo "$KUBECONFIG_FILE"
        return 0
    fi
    case "${DOCKER_HOST:-}" in
    unix://*) ;;
    *)
        echo "error: set DOCKER_HOST to the test dockerd (scripts/engines/dockerd.sh start)" >&2
        return 1
        ;;
    esac
    command -v etcd >/dev/null || {
        echo "error: etcd is not installed (apt-get install etcd-server)" >&2
        return 1
    }
    mkdir -p "$DIR"
    binaries
    credentials
    pause_image
    control_plane
    kubelet
    wait_for "the kubelet's node" node_ready
    echo "$KUBECONFIG_FILE"
}

# stop_component <name>: TERM (KILL after 10 s) the component `start` launched.
stop_component() {
    local pid
    pid=$(our_pid "$1") || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        [ -d "/proc/$pid" ] || break
        sleep 0.1
    done
    [ -d "/proc/$pid" ] && kill -9 "$pid" 2>/dev/null || true
    rm -f "$DIR/$1.pid"
}

# Fault injection for the outage tests: the apiserver alone goes away and comes
# back with the same flags, state (etcd) and certificates; the other components
# and the pods keep running and reconnect.
start_apiserver() {
    our_pid etcd >/dev/null || {
        echo "error: no test cluster to restart the apiserver of (start it first)" >&2
        return 1
    }
    apiserver
    wait_for kube-apiserver apiserver_ready
}

restart_apiserver() { # restart_apiserver [DOWN_SECONDS]
    stop_component kube-apiserver
    sleep "${1:-0}"
    start_apiserver
}

stop() {
    local i
    for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
        stop_component "${COMPONENTS[$i]}"
    done
    # The pods' containers on the test dockerd were made by this kubelet: remove them.
    if [ -n "${DOCKER_HOST:-}" ] && command -v docker >/dev/null; then
        docker ps -aq --filter label=io.kubernetes.pod.uid 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1 || true
    fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) apiserver_ready && node_ready ;;
stop-apiserver) stop_component kube-apiserver ;;
start-apiserver) start_apiserver ;;
restart-apiserver) restart_apiserver "${2:-0}" ;;
*)
    echo "usage: $0 start|stop|status|stop-apiserver|start-apiserver|restart-apiserver [DOWN_SECONDS]" >&2
    exit 2
    ;;
esac
