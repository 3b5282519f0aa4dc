#!/usr/bin/env bash
# Start or stop two private container registries (CNCF distribution, Debian's
# docker-registry) on 127.0.0.1 for the tests that push and pull images.
#
#   bash scripts/engines/registry.sh start   # prints KEY=VALUE lines for the tests (see below)
#   bash scripts/engines/registry.sh stop    # stops both (by their pidfiles)
#   bash scripts/engines/registry.sh status  # exit 0 (and the same lines) when both answer
#
# Two instances, each its own config, storage, pidfile and log under one directory:
#   plain  no authentication, on the first port (default 16500)
#   auth   htpasswd (bcrypt) with one test user, on the next port (default 16501); its
#          random password is made at the first start and kept in a 0600 file, never printed
# Both speak plain HTTP, which dockerd allows for registries on 127.0.0.0/8 (no
# insecure-registries setting needed). Each reads only its own config: it is
# given on the command line and REGISTRY_* variables (which override any
# setting) are dropped, so /etc/docker/registry/config.yml plays no part.
# `start` is idempotent: instances that answer are reused; the images and the
# password are kept across stop and start.
#
# Printed by start and status:
#   TORCHRUN_CORE_TEST_REGISTRY=127.0.0.1:16500                the plain one
#   TORCHRUN_CORE_TEST_REGISTRY_AUTH=127.0.0.1:16501           the authenticated one
#   TORCHRUN_CORE_TEST_REGISTRY_AUTH_USER=trcpush              its user
#   TORCHRUN_CORE_TEST_REGISTRY_AUTH_PASSWORD_FILE=<dir>/auth/password  its password (0600)
#
# Environment:
#   TORCHRUN_CORE_REGISTRY_DIR   its directory (default: /tmp/torchrun-core-registry)
#   TORCHRUN_CORE_REGISTRY_PORT  the plain one's port; the auth one uses the next
#                                (default: 16500)
#   TORCHRUN_CORE_REGISTRY_USER  the auth one's user (default: trcpush)
#   TORCHRUN_CORE_REGISTRY_WAIT  seconds to wait for each to answer (default: 30)
set -euo pipefail

DIR=${TORCHRUN_CORE_REGISTRY_DIR:-/tmp/torchrun-core-registry}
BASE=${TORCHRUN_CORE_REGISTRY_PORT:-16500}
RUSER=${TORCHRUN_CORE_REGISTRY_USER:-trcpush}
WAIT=${TORCHRUN_CORE_REGISTRY_WAIT:-30}
BIN=docker-registry
HOST=127.0.0.1
INSTANCES=(plain auth)
AUTH_DIR=$DIR/auth
PASSWORD_FILE=$AUTH_DIR/password
HTPASSWD=$AUTH_DIR/htpasswd

port_of() {
    case $1 in
    plain) echo "$BASE" ;;
    auth) echo $((BASE + 1)) ;;
    esac
}

# The status GET /v2/ answers with when instance $1 is up: 401 (asks for credentials) for auth.
expected_code() {
    case $1 in
    plain) echo 200 ;;
    auth) echo 401 ;;
    esac
}

info() {
    echo "TORCHRUN_CORE_TEST_REGISTRY=$HOST:$(port_of plain)"
    echo "TORCHRUN_CORE_TEST_REGISTRY_AUTH=$HOST:$(port_of auth)"
    echo "TORCHRUN_CORE_TEST_REGISTRY_AUTH_USER=$RUSER"
    echo "TORCHRUN_CORE_TEST_REGISTRY_AUTH_PASSWORD_FILE=$PASSWORD_FILE"
}

# The pid in instance $1's pidfile, when that process is still a docker-registry.
our_pid() {
    local pid
    pid=$(cat "$DIR/$1/registry.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$BIN" ] || return 1
    echo "$pid"
}

# True when instance $1 runs (our pid) and answers GET /v2/ as a registry should.
answers() {
    local headers code
    our_pid "$1" >/dev/null || return 1
    headers=$(curl --silent --max-time 2 --output /dev/null --dump-header - \
        "http://$HOST:$(port_of "$1")/v2/" 2>/dev/null) || return 1
    code=$(awk 'NR == 1 {print $2}' <<<"$headers")
    [ "$code" = "$(expected_code "$1")" ] &&
        grep -qi '^docker-distribution-api-version: registry/2.0' <<<"$headers"
}

all_answer() {
    local name
    for name in "${INSTANCES[@]}"; do
        answers "$name" || return 1
    done
}

listening() { ss -ltnH "sport = :$1" 2>/dev/null | grep -q .; }

# The test user's password (random, made once) and its bcrypt htpasswd entry.
make_auth() {
    mkdir -p "$AUTH_DIR"
    chmod 700 "$AUTH_DIR"
    if [ ! -s "$PASSWORD_FILE" ]; then
        (
            umask 077
            # 24 random bytes, URL-safe base64: no characters that need quoting anywhere.
            head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$PASSWORD_FILE.tmp"
        )
        mv "$PASSWORD_FILE.tmp" "$PASSWORD_FILE"
        rm -f "$HTPASSWD" # a new password: a new entry
    fi
    chmod 600 "$PASSWORD_FILE"
    if [ ! -s "$HTPASSWD" ] || ! grep -q "^$RUSER:" "$HTPASSWD"; then
        # -i: the password from stdin, so that it never shows in a process list.
        (umask 077 && htpasswd -nBi "$RUSER" <"$PASSWORD_FILE" >"$HTPASSWD.tmp")
        mv "$HTPASSWD.tmp" "$HTPASSWD"
    fi
}

write_config() {
    local name=$1 port
    port=$(port_of "$name")
    mkdir -p "$DIR/$name/data"
    # The http secret signs upload state; fixed per instance, so no warning about a random one.
    [ -s "$DIR/$name/secret" ] || (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '\n' >"$DIR/$name/secret")
    {
        cat <<EOF
version: 0.1
log:
  level: info
  fields:
    service: torchrun-core-registry-$name
storage:
  filesystem:
    rootdirectory: $DIR/$name/data
  cache:
    blobdescriptor: inmemory
http:
  addr: $HOST:$port
  secret: $(cat "$DIR/$name/secret")
  headers:
    X-Content-Type-Options: [nosniff]
EOF
        if [ "$name" = auth ]; then
            cat <<EOF
auth:
  htpasswd:
    realm: torchrun-core-test-registry
    path: $HTPASSWD
EOF
        fi
    } >"$DIR/$name/config.yml"
    chmod 600 "$DIR/$name/config.yml"
}

start_one() {
    local name=$1 port pid started deadline
    answers "$name" && return 0
    port=$(port_of "$name")
    if pid=$(our_pid "$name"); then # alive but not answering: a hung start; replace it
        kill "$pid" 2>/dev/null || true
        sleep 1
    fi
    if listening "$port"; then
        echo "error: port $HOST:$port ($name registry) is taken by another process:" >&2
        ss -ltnpH "sport = :$port" >&2 || true
        echo "set TORCHRUN_CORE_REGISTRY_PORT to a free pair of ports" >&2
        return 1
    fi
    if [ "$name" = auth ]; then make_auth; fi
    write_config "$name"
    rm -f "$DIR/$name/registry.pid"
    # setsid: it outlives this script and ignores the caller's Ctrl-C. The shell
    # writes its own pid, then becomes the registry (exec), so the pidfile is exact.
    setsid bash -c '
        echo $$ >"$1/registry.pid"
        for var in "${!REGISTRY_@}"; do unset "$var"; done
        exec "$2" serve "$1/config.yml"
    ' registry "$DIR/$name" "$BIN" >"$DIR/$name/registry.log" 2>&1 </dev/null &
    started=$!
    deadline=$((SECONDS + WAIT))
    until answers "$name"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "error: the $name registry did not answer on $HOST:$port within ${WAIT}s;" \
                "its log ($DIR/$name/registry.log):" >&2
            tail -n 20 "$DIR/$name/registry.log" >&2 || true
            return 1
        fi
        if ! kill -0 "$started" 2>/dev/null; then
            echo "error: the $name registry exited while starting; its log ($DIR/$name/registry.log):" >&2
            tail -n 20 "$DIR/$name/registry.log" >&2 || true
            return 1
        fi
        sleep 0.2
    done
}

start() {
    command -v "$BIN" >/dev/null || {
        echo "error: $BIN is not installed (apt-get install docker-registry)" >&2
        return 1
    }
    command -v htpasswd >/dev/null || {
        echo "error: htpasswd is not installed (apt-get install apache2-utils)" >&2
        return 1
    }
    mkdir -p "$DIR"
    chmod 700 "$DIR"
    local name
    for name in "${INSTANCES[@]}"; do
        start_one "$name" || return 1
    done
    info
}

stop_one() {
    local pid
    pid=$(our_pid "$1") || {
        rm -f "$DIR/$1/registry.pid"
        return 0 # not running
    }
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        if [ ! -d "/proc/$pid" ]; then
            rm -f "$DIR/$1/registry.pid"
            return 0
        fi
        sleep 0.1
    done
    echo "warning: the $1 registry ($pid) did not stop in 10 s; killing it" >&2
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$DIR/$1/registry.pid"
}

stop() {
    local name
    for name in "${INSTANCES[@]}"; do
        stop_one "$name"
    done
}

status() {
    all_answer || return 1
    info
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
