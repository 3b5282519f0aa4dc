#!/usr/bin/env bash
# Start or stop a private 2-node Slurm cluster on this host, reached over SSH.
#
#   bash scripts/engines/slurm.sh start   # prints KEY=VALUE lines for the tests (see below)
#   bash scripts/engines/slurm.sh stop    # stops only the daemons this script started
#   bash scripts/engines/slurm.sh status  # exit 0 when sinfo answers and sshd listens
#
# Two profiles, each its own cluster (directory, ports, ClusterName, daemons),
# so both run at once (scripts/test.sh starts both; tests/schedulers/slurm runs on each):
#   TORCHRUN_CORE_SLURM_PROFILE=site   (default) the settings tuned for the tests:
#       ProctrackType=proctrack/linuxproc, MinJobAge=600, KillWait=2,
#       AccountingStoreFlags=job_comment (sacct shows the job comment)
#   TORCHRUN_CORE_SLURM_PROFILE=stock  Slurm's defaults where the site differs:
#       ProctrackType=proctrack/pgid, KillWait unset (30 s), no AccountingStoreFlags
#       (sacct has no comment), and MinJobAge=5 so squeue forgets finished jobs soon
# Both keep the SchedulerParameters speed tuning (sched_interval=1, ...): it
# changes how soon jobs start, not what Slurm does with them.
#
# Fault injection for tests (tests/schedulers/slurm/slurm_faults.py wraps them):
#   stop-ctld      stop slurmctld (SIGTERM: it saves its state; slurmd and the
#                  running jobs go on)
#   start-ctld     start it again from its saved state (no -c), wait until it answers
#   restart-sshd   drop every SSH connection, listen again
#   stop-sshd / start-sshd   the same in two steps (connections refused meanwhile)
#   ps             the test user's processes on the nodes (this host), one a line,
#                  tab-separated: pid, ppid, cluster, job id, cwd, command line;
#                  cluster and job id come from the process's SLURM_CLUSTER_NAME and
#                  SLURM_JOB_ID ("-" when it has none), which a job's processes keep
#                  even when re-parented to init
#
# It runs, from files under one directory: munged (own socket), slurmctld, two
# slurmd (`-N node1`, `-N node2`, one host, different ports) and an sshd on
# 127.0.0.1 (key-only, one unprivileged user with a plain /bin/sh, so that no
# login script such as pyenv's slows each command). The sshd sets SLURM_CONF
# for its sessions, so the Slurm commands over SSH find this cluster's config.
# When slurmdbd and mariadb-server are installed, it also runs a private
# mariadbd (own datadir, socket, and a port on 127.0.0.1) and slurmdbd, and
# registers the cluster, so that `sacct` answers for finished jobs; without
# them, accounting is off and only squeue (until MinJobAge) knows finished jobs.
# `start` is idempotent: a cluster that answers is reused.
#
# Printed by start (and status), the site profile's names (stock: the prefix
# TORCHRUN_CORE_TEST_SLURM_STOCK_):
#   TORCHRUN_CORE_TEST_SLURM_HOST, _PORT, _USER, _KEY (private key file),
#   _HOST_KEY (the sshd's public host key file, for a known_hosts line),
#   _CONF (slurm.conf, for local commands)
#
# Environment:
#   TORCHRUN_CORE_SLURM_PROFILE  site (default) or stock
#   TORCHRUN_CORE_SLURM_DIR   its directory (default: /tmp/torchrun-core-slurm);
#                             stock: TORCHRUN_CORE_SLURM_STOCK_DIR (/tmp/torchrun-core-slurm-stock)
#   TORCHRUN_CORE_SLURM_PORT  first of 6 consecutive TCP ports used (default: 16817);
#                             stock: TORCHRUN_CORE_SLURM_STOCK_PORT (default: 16827)
#   TORCHRUN_CORE_SLURM_USER  the SSH test user of both (default: trcslurm; created when missing)
#   TORCHRUN_CORE_SLURM_WAIT  seconds to wait for each daemon (default: 30)
set -euo pipefail

PROFILE=${TORCHRUN_CORE_SLURM_PROFILE:-site}
case $PROFILE in
site)
    DIR=${TORCHRUN_CORE_SLURM_DIR:-/tmp/torchrun-core-slurm}
    BASE=${TORCHRUN_CORE_SLURM_PORT:-16817}
    CLUSTER=torchrun-core
    PREFIX=TORCHRUN_CORE_TEST_SLURM_
    ;;
stock)
    DIR=${TORCHRUN_CORE_SLURM_STOCK_DIR:-/tmp/torchrun-core-slurm-stock}
    BASE=${TORCHRUN_CORE_SLURM_STOCK_PORT:-16827}
    CLUSTER=torchrun-stock
    PREFIX=TORCHRUN_CORE_TEST_SLURM_STOCK_
    ;;
*)
    echo "error: TORCHRUN_CORE_SLURM_PROFILE=$PROFILE: expected site or stock" >&2
    exit 2
    ;;
esac
TUSER=${TORCHRUN_CORE_SLURM_USER:-trcslurm}
WAIT=${TORCHRUN_CORE_SLURM_WAIT:-30}
CTLD_PORT=$BASE
NODE1_PORT=$((BASE + 1))
NODE2_PORT=$((BASE + 2))
SSH_PORT=$((BASE + 3))
DBD_PORT=$((BASE + 4))
DB_PORT=$((BASE + 5))
CONF=$DIR/slurm.conf
RUN=$DIR/run
LOGS=$DIR/log
SOCK=$DIR/munge/munge.socket
DB_SOCK=$DIR/db/mariadb.sock
DB_DATA=$DIR/db/data
export SLURM_CONF=$CONF

info() {
    echo "${PREFIX}HOST=127.0.0.1"
    echo "${PREFIX}PORT=$SSH_PORT"
    echo "${PREFIX}USER=$TUSER"
    echo "${PREFIX}KEY=$DIR/ssh/id_ed25519"
    echo "${PREFIX}HOST_KEY=$DIR/ssh/host_ed25519.pub"
    echo "${PREFIX}CONF=$CONF"
}

# The pid in pidfile $1 when that process is alive and named $2.
alive() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$2" ] || return 1
    echo "$pid"
}

listening() { ss -ltnH "sport = :$1" 2>/dev/null | grep -q .; }

answers() {
    alive "$RUN/slurmctld.pid" slurmctld >/dev/null && listening "$SSH_PORT" &&
        timeout 5 sinfo -h >/dev/null 2>&1
}

# Wait until command "$@" succeeds, at most $WAIT seconds; name $1 in the error.
wait_for() {
    local what=$1 log=$2 deadline=$((SECONDS + WAIT))
    shift 2
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "error: $what did not come up within ${WAIT}s; its log ($log):" >&2
            tail -n 20 "$log" >&2 || true
            return 1
        fi
        sleep 0.2
    done
}

make_user() {
    id "$TUSER" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$TUSER"
    # "*": no password, but not locked ("!"), which sshd without PAM refuses even for keys.
    usermod -p "*" "$TUSER"
    local home
    home=$(getent passwd "$TUSER" | cut -d: -f6)
    mkdir -p "$DIR/ssh" && chmod 755 "$DIR" && chmod 700 "$DIR/ssh"
    [ -f "$DIR/ssh/id_ed25519" ] || ssh-keygen -q -t ed25519 -N "" -f "$DIR/ssh/id_ed25519"
    [ -f "$DIR/ssh/host_ed25519" ] || ssh-keygen -q -t ed25519 -N "" -f "$DIR/ssh/host_ed25519"
    install -d -m 700 -o "$TUSER" -g "$TUSER" "$home/.ssh"
    # Each profile adds its own key: both clusters log in as the same user.
    local keys=$home/.ssh/authorized_keys
    touch "$keys"
    grep -qxF "$(cat "$DIR/ssh/id_ed25519.pub")" "$keys" || cat "$DIR/ssh/id_ed25519.pub" >>"$keys"
    chown "$TUSER:$TUSER" "$keys"
    chmod 600 "$keys"
}

# Accounting (sacct) needs both slurmdbd and a MariaDB server.
has_accounting() {
    [ -x /usr/sbin/slurmdbd ] && [ -x /usr/sbin/mariadbd ] && command -v mariadb-install-db >/dev/null
}

# The AccountingStorage* lines of slurm.conf: slurmdbd when it can run, else none.
accounting_conf() {
    if has_accounting; then
        echo "AccountingStorageType=accounting_storage/slurmdbd"
        echo "AccountingStorageHost=127.0.0.1"
        echo "AccountingStoragePort=$DBD_PORT"
        # the munge socket for slurmdbd connections (AuthInfo does not cover them)
        echo "AccountingStoragePass=$SOCK"
        # sacct shows the comment (torchrun_core's tag) only when it is stored;
        # Slurm's default (the stock profile) stores none
        [ "$PROFILE" = stock ] || echo "AccountingStoreFlags=job_comment"
    else
        echo "AccountingStorageType=accounting_storage/none"
    fi
}

# The settings where the two profiles differ (see the header).
profile_conf() {
    if [ "$PROFILE" = stock ]; then
        echo "ProctrackType=proctrack/pgid"
        echo "MinJobAge=5"
    else
        echo "ProctrackType=proctrack/linuxproc"
        echo "MinJobAge=600"
        echo "KillWait=2"
    fi
}

write_configs() {
    local host cpus
    host=$(hostname -s)
    cpus=$(nproc)
    mkdir -p "$RUN" "$LOGS" "$DIR/ctld" "$DIR/spool/node1" "$DIR/spool/node2" "$DIR/munge"
    chmod 755 "$DIR/munge" "$RUN" "$LOGS"
    cat >"$CONF" <<CONF
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCK
CredType=cred/munge
StateSaveLocation=$DIR/ctld
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd-%n.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd-%n.log
$(profile_conf)
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
SchedulerParameters=bf_interval=1,sched_interval=1,batch_sched_delay=0,sched_min_interval=0
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
$(accounting_conf)
NodeName=node1 NodeHostname=$host NodeAddr=127.0.0.1 Port=$NODE1_PORT CPUs=$cpus RealMemory=1024 State=UNKNOWN
NodeName=node2 NodeHostname=$host NodeAddr=127.0.0.1 Port=$NODE2_PORT CPUs=$cpus RealMemory=1024 State=UNKNOWN
PartitionName=debug Nodes=node1,node2 Default=YES MaxTime=INFINITE State=UP
CONF
    chmod 644 "$CONF"
    cat >"$DIR/sshd_config" <<SSHD
ListenAddress 127.0.0.1:$SSH_PORT
HostKey $DIR/ssh/host_ed25519
PidFile $RUN/sshd.pid
AllowUsers $TUSER
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
Subsystem sftp internal-sftp
SetEnv SLURM_CONF=$CONF
MaxSessions 50
MaxStartups 50:30:100
SSHD
}

start() {
    if answers; then
        info
        return 0
    fi
    for cmd in munged slurmctld slurmd sshd sinfo; do
        command -v "$cmd" >/dev/null || [ -x "/usr/sbin/$cmd" ] || {
            echo "error: $cmd is not installed (apt-get install slurmctld slurmd" \
                "slurm-client munge openssh-server)" >&2
            return 1
        }
    done
    stop >/dev/null 2>&1 || true
    make_user
    write_configs
    # munged wants its key and socket dir owned by the user it runs as: root here.
    install -m 400 /etc/munge/munge.key "$DIR/munge/munge.key"
    setsid /usr/sbin/munged --force --socket="$SOCK" --key-file="$DIR/munge/munge.key" \
        --pid-file="$RUN/munged.pid" --log-file="$LOGS/munged.log" \
        --seed-file="$DIR/munge/munged.seed" </dev/null >/dev/null 2>&1
    wait_for munged "$LOGS/munged.log" test -S "$SOCK"
    if has_accounting; then start_accounting; fi
    setsid /usr/sbin/slurmctld -i -f "$CONF" </dev/null >/dev/null 2>&1
    wait_for slurmctld "$LOGS/slurmctld.log" timeout 5 sinfo -h
    for node in node1 node2; do
        setsid /usr/sbin/slurmd -N "$node" -f "$CONF" </dev/null >/dev/null 2>&1
    done
    wait_for "slurmd node1+node2" "$LOGS/slurmd-node2.log" nodes_idle
    start_sshd
    info
}

# A private mariadbd with the slurm_acct_db database, then slurmdbd, then the
# cluster registered in it (before slurmctld starts, so that it registers at once).
start_accounting() {
    local pass
    mkdir -p "$DIR/db"
    chown mysql:mysql "$DIR/db"
    if [ ! -d "$DB_DATA/mysql" ]; then
        mariadb-install-db --user=mysql --datadir="$DB_DATA" --skip-test-db \
            --auth-root-authentication-method=socket >"$LOGS/mariadb-install.log" 2>&1
    fi
    setsid /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$DB_DATA" \
        --socket="$DB_SOCK" --port="$DB_PORT" --bind-address=127.0.0.1 \
        --pid-file="$DIR/db/mariadbd.pid" --log-error="$DIR/db/mariadbd.log" \
        --skip-log-bin </dev/null >/dev/null 2>&1 &
    wait_for mariadbd "$DIR/db/mariadbd.log" mariadb-admin --no-defaults -S "$DB_SOCK" ping
    [ -f "$DIR/db/slurm.pass" ] || head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$DIR/db/slurm.pass"
    chmod 600 "$DIR/db/slurm.pass"
    pass=$(cat "$DIR/db/slurm.pass")
    mariadb --no-defaults -S "$DB_SOCK" -u root <<SQL
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$pass';
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
SQL
    # slurmdbd reads slurmdbd.conf beside slurm.conf and refuses one that others
    # can read or that its SlurmUser (root here) does not own.
    (
        umask 077
        cat >"$DIR/slurmdbd.conf" <<DBD
AuthType=auth/munge
AuthInfo=socket=$SOCK
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$RUN/slurmdbd.pid
LogFile=$LOGS/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$pass
StorageLoc=slurm_acct_db
DBD
    )
    chown root:root "$DIR/slurmdbd.conf"
    chmod 600 "$DIR/slurmdbd.conf"
    setsid /usr/sbin/slurmdbd </dev/null >/dev/null 2>&1
    wait_for slurmdbd "$LOGS/slurmdbd.log" timeout 5 sacctmgr -n list cluster
    if ! timeout 10 sacctmgr -n -P list cluster format=Cluster | grep -qx "$CLUSTER"; then
        timeout 10 sacctmgr -i add cluster "$CLUSTER" >/dev/null
    fi
}

nodes_idle() {
    [ "$(sinfo -h -N -o '%N %t' | grep -cE ' (idle|mix|alloc)$')" -eq 2 ]
}

stop() {
    local name pidfile pid
    for pair in sshd:sshd.pid slurmd:slurmd-node1.pid slurmd:slurmd-node2.pid \
        slurmctld:slurmctld.pid slurmdbd:slurmdbd.pid mariadbd:../db/mariadbd.pid munged:munged.pid; do
        name=${pair%%:*}
        pidfile=$RUN/${pair#*:}
        if pid=$(alive "$pidfile" "$name"); then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$pidfile"
    done
}

# Stop our sshd and its per-connection children (so clients see their connections
# drop): new connections are refused until start_sshd.
stop_sshd() {
    local pid child
    if pid=$(alive "$RUN/sshd.pid" sshd); then
        for child in $(ps -o pid= --ppid "$pid"); do kill "$child" 2>/dev/null || true; done
        kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
}

start_sshd() {
    alive "$RUN/sshd.pid" sshd >/dev/null && return 0
    mkdir -p /run/sshd
    /usr/sbin/sshd -f "$DIR/sshd_config" -E "$LOGS/sshd.log"
    wait_for sshd "$LOGS/sshd.log" listening "$SSH_PORT"
}

# SIGTERM: slurmctld saves its state and exits; slurmd and the jobs' steps go on.
stop_ctld() {
    local pid
    pid=$(alive "$RUN/slurmctld.pid" slurmctld) || return 0
    kill "$pid"
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    echo "error: slurmctld (pid $pid) did not stop within 30s" >&2
    return 1
}

# Without -c (clear state) and -i (ignore state errors): like a site restarting it,
# the controller takes back its jobs, running ones included, from its saved state.
start_ctld() {
    alive "$RUN/slurmctld.pid" slurmctld >/dev/null && return 0
    setsid /usr/sbin/slurmctld -f "$CONF" </dev/null >/dev/null 2>&1
    wait_for slurmctld "$LOGS/slurmctld.log" timeout 5 sinfo -h
}

# The test user's processes, read from /proc (the nodes are this host), with the
# job they belong to by their environment (see the header).
job_ps() {
    local proc uid pid ppid cluster job cwd args
    uid=$(id -u "$TUSER")
    for proc in /proc/[0-9]*; do
        [ "$(stat -c %u "$proc" 2>/dev/null)" = "$uid" ] || continue
        pid=${proc#/proc/}
        ppid=$(awk '/^PPid:/ {print $2}' "$proc/status" 2>/dev/null) || continue
        cluster=$(tr '\0' '\n' 2>/dev/null <"$proc/environ" | sed -n 's/^SLURM_CLUSTER_NAME=//p') || true
        job=$(tr '\0' '\n' 2>/dev/null <"$proc/environ" | sed -n 's/^SLURM_JOB_ID=//p') || true
        cwd=$(readlink "$proc/cwd" 2>/dev/null) || cwd=-
        args=$(tr '\0\n\t' '   ' 2>/dev/null <"$proc/cmdline") || continue # one line
        [ -n "$ppid" ] || continue # gone meanwhile
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$pid" "$ppid" "${cluster:--}" "${job:--}" "$cwd" "${args% }"
    done
}

case ${1:-} in
restart-sshd) stop_sshd && start_sshd ;;
stop-sshd) stop_sshd ;;
start-sshd) start_sshd ;;
stop-ctld) stop_ctld ;;
start-ctld) start_ctld ;;
ps) job_ps ;;
start) start ;;
stop) stop ;;
status) answers && info ;;
*)
    echo "usage: $0 start|stop|status|stop-ctld|start-ctld|restart-sshd|stop-sshd|start-sshd|ps" >&2
    exit 2
    ;;
esac
