"""The per-app supervisor: runs the replicas of one local app until it ends.

It runs in a process forked from the launcher (see ``launch``) and
uses only the standard library, no threads: one ``selectors`` loop reads the
replicas' pipes into log files, reaps exits (SIGCHLD via a wakeup fd),
applies the retry policy, serves watchers and cancel requests on the app's
abstract unix socket, and rewrites ``state.json`` after each change.

Exit codes follow the shell: a replica killed by signal N reports 128 + N,
an entrypoint that cannot be found 127, one that cannot be executed 126.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import time
from typing import Any

from torchrun_core.schedulers.local.logs import AttemptLogWriter
from torchrun_core.schedulers.local.plan import ATTEMPT_ENV, LocalPlan
from torchrun_core.schedulers.local.records import RETRY_WRITE_S, AppRecords
from torchrun_core.schedulers.local.replica import Replica, RoleRun
from torchrun_core.schedulers.local.state import (
    PLAN_FILE,
    TERMINAL,
    proc_start_time,
)
from torchrun_core.schedulers.local.stopper import Stopper
from torchrun_core.schedulers.local.supervisor_io import (
    WatcherSockets,
    drain,
    exit_reason,
    spawn_error,
)

_READ_SIZE = 1 << 16


class Supervisor:
    """Runs ``plan`` to a terminal state; owns the listening socket it is given."""

    def __init__(
        self,
        plan: LocalPlan,
        listener: socket.socket,
        state: dict[str, Any],
        env: dict[str, str],
    ) -> None:
        """``state`` is the launcher's initial state; ``env`` the launcher's environment."""
        self.plan = plan
        self.base = state  # the launcher's initial state: ids, created_at...
        self.version = int(state["version"])
        self.roles = [RoleRun(r) for r in plan.roles]
        self.replicas = [r for role in self.roles for r in role.replicas]
        self.by_pid: dict[int, Replica] = {}
        self.by_fd: dict[int, tuple[Replica, str]] = {}
        self.stopping: set[Replica] = set()  # sent SIGTERM, not yet reaped
        self.restart: set[Replica] = set()  # to start again once nothing is stopping
        self.stopper = Stopper(plan.grace_period)
        self.records = AppRecords(plan.app_dir)
        self.final: str | None = None  # FAILED or CANCELLED once decided
        self.app_state = "SUBMITTED"
        self.message = ""
        self.num_restarts = 0
        self.finished_at: float | None = None
        self.failed_spawns: list[tuple[Replica, int, str]] = []
        self.dirty = True
        self.sel = selectors.DefaultSelector()
        self.watchers = WatcherSockets(listener, self.sel)
        self.base_env = env
        self.identity = {"pid": os.getpid(), "start": proc_start_time(os.getpid())}
        self.devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)

    # -- main loop -------------------------------------------------------------
    def run(self) -> None:
        """Start every replica and supervise until the app is terminal."""
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        # Handlers, never SIG_IGN: an ignored signal stays ignored across exec,
        # in every replica. The wakeup fd carries the signal to the loop.
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *_: None)
        self.sel.register(wake_r, selectors.EVENT_READ, "signal")
        self.app_state = "RUNNING"
        self.records.start()
        for replica in self.replicas:
            self._spawn(replica)
        # For people reading the app dir; written here, not by the launcher,
        # to keep file creation out of the submission path.
        path = os.path.join(self.plan.app_dir, PLAN_FILE)
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(json.dumps(self.plan.to_dict(redact=True)))
        except OSError as err:  # a full disk: no plan.json rather than half of one
            self.records.note(f"cannot write {PLAN_FILE}: {err.strerror or err}")
            with contextlib.suppress(OSError):
                os.unlink(path)
        while self.app_state not in TERMINAL or self.dirty:  # dirty: its end is not recorded
            self._step(wake_r)
        self.records.close()
        self.watchers.close()  # watchers see EOF: the app is over

    def _step(self, wake_r: int) -> None:
        while self.failed_spawns:
            self._on_failure(*self.failed_spawns.pop(0))
        self._advance()
        self._publish()
        if self.app_state in TERMINAL:
            if self.dirty:  # the disk is full: wait for room to record the app's end
                time.sleep(RETRY_WRITE_S)
            return
        for key, _ in self.sel.select(self._timeout()):
            if key.data == "pipe":
                self._pump(key.fd)
            elif key.data == "signal":
                sigs = os.read(wake_r, 256)
                if signal.SIGTERM in sigs or signal.SIGINT in sigs:
                    self.cancel()
            elif key.data == "listen":
                self.watchers.accept()
            else:
                ask = self.watchers.read(key.fileobj)  # type: ignore[arg-type]
                if ask is not None:
                    self.cancel(ask.grace_period)
        self._reap()
        self.stopper.check_groups()

    def _timeout(self) -> float | None:
        if self.failed_spawns:
            return 0.0
        timeout = self.stopper.timeout()
        if self.dirty:  # the last state write failed: try again
            return RETRY_WRITE_S if timeout is None else min(timeout, RETRY_WRITE_S)
        return timeout

    def _publish(self) -> None:
        """Write state.json, then wake every watcher (connected before the write)."""
        if not self.dirty:
            return
        self.dirty = False
        self.version += 1
        state = dict(self.base)
        state.update(
            version=self.version,
            state=self.app_state,
            message=self.message,
            num_restarts=self.num_restarts,
            finished_at=self.finished_at,
            supervisor=self.identity,
            roles=[
                {"role": rr.plan.name, "replicas": [r.to_dict() for r in rr.replicas]}
                for rr in self.roles
            ],
        )
        if not self.records.write(state):
            self.dirty = True  # readers keep the last state written until then
            return
        self.watchers.notify()

    # -- replicas --------------------------------------------------------------
    def _spawn(self, r: Replica) -> None:
        now = time.time()
        r.logs = AttemptLogWriter(r.plan.log_dir, r.attempt)
        r.state, r.exit_code, r.message, r.attempt_done = "RUNNING", None, "", False
        r.log_error = None
        r.started_at, r.finished_at, r.pid_start = now, None, None
        env = self.base_env.copy()
        env.update(r.plan.env)
        env[ATTEMPT_ENV] = str(r.attempt)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            r.proc = subprocess.Popen(
                r.plan.argv,
                cwd=r.plan.cwd,
                env=env,
                stdin=self.devnull,
                stdout=out_w,
                stderr=err_w,
                start_new_session=True,  # its own process group, killable as one
            )
        except (OSError, ValueError) as err:  # ValueError: a NUL byte in argv or env
            os.close(out_r)
            os.close(err_r)
            code, reason = spawn_error(err, r.plan.argv[0], r.plan.cwd)
            r.proc, r.state = None, "PENDING"
            r.logs.write_line("stderr", f"torchrun-core: {reason}")
            self._end_attempt(r)
            # Handled by the loop, after every replica of this batch started,
            # so that a retry sees (and stops) all of them.
            self.failed_spawns.append((r, code, reason))
            return
        finally:
            os.close(out_w)
            os.close(err_w)
        r.pid_start = proc_start_time(r.proc.pid)
        self.by_pid[r.proc.pid] = r
        for fd, stream in ((out_r, "stdout"), (err_r, "stderr")):
            os.set_blocking(fd, False)
            self.by_fd[fd] = (r, stream)
            self.sel.register(fd, selectors.EVENT_READ, "pipe")
            r.pipes.append(fd)
        self.dirty = True

    def _pump(self, fd: int) -> None:
        replica, stream = self.by_fd[fd]
        try:
            data = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return
        if data:
            assert replica.logs is not None
            if replica.logs.error is not None and self.records.room():
                replica.logs.resume()
            replica.logs.write(stream, data)
            self._check_log(replica)
        else:
            self._close_pipe(fd)

    def _check_log(self, r: Replica) -> None:
        """Record the first failed write of this attempt's log, and why."""
        assert r.logs is not None
        if r.logs.error is None or r.log_error is not None:
            return
        r.log_error = f"log of attempt {r.attempt} incomplete: {r.logs.error}"
        where = f"{r.role.plan.name}/{r.plan.replica_id}"
        self.records.note(f"{where}: {r.log_error}; its output is dropped until there is room")
        self.dirty = True

    def _close_pipe(self, fd: int) -> None:
        replica, _ = self.by_fd.pop(fd)
        self.sel.unregister(fd)
        os.close(fd)
        replica.pipes.remove(fd)

    def _end_attempt(self, r: Replica) -> None:
        """Read what is left in the pipes, then close this attempt's logs."""
        for fd in list(r.pipes):
            assert r.logs is not None
            drain(fd, self.by_fd[fd][1], r.logs)
            self._close_pipe(fd)
        if r.logs is not None:
            r.logs.close()
            self._check_log(r)
        r.attempt_done = True
        r.finished_at = time.time()
        self.dirty = True

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            replica = self.by_pid.pop(pid, None)
            if replica is not None:  # else an adopted orphan (we are a subreaper)
                self._on_exit(replica, os.waitstatus_to_exitcode(status))

    def _on_exit(self, r: Replica, code: int) -> None:
        assert r.proc is not None
        r.proc.returncode = code  # so that Popen never waits for it again
        self._signal_group(r, signal.SIGTERM)  # whatever it left behind in its group
        self._end_attempt(r)
        exit_code, reason = exit_reason(code)
        r.exit_code = exit_code
        if r in self.stopping:
            self.stopping.discard(r)
            r.state = "CANCELLED" if self.final else "PENDING"
            r.message = f"stopped: {reason}"
        elif code == 0:
            r.state, r.message = "SUCCEEDED", ""
        else:
            self._on_failure(r, exit_code, reason)

    def _on_failure(self, r: Replica, exit_code: int, reason: str) -> None:
        r.exit_code = exit_code
        role = r.role
        where = f"{role.plan.name}/{r.plan.replica_id}"
        if self.final is not None:
            r.state, r.message = "FAILED", reason
            return
        if role.retries_used < role.plan.max_retries:
            role.retries_used += 1
            self.num_restarts += 1
            r.state = "PENDING"
            r.message = f"{reason}; retry {role.retries_used}/{role.plan.max_retries}"
            targets = self._retry_targets(r)
            self.restart.update(targets)
            self._stop(t for t in targets if t.state == "RUNNING")
            return
        r.state, r.message = "FAILED", reason
        self.final = "FAILED"
        self.message = f"{where} {reason}"
        self.restart.clear()
        self._stop(t for t in self.replicas if t.state == "RUNNING")
        self.stopper.start_sweep()

    def _retry_targets(self, r: Replica) -> list[Replica]:
        policy = r.role.plan.retry_policy
        if policy == "REPLICA":
            return [r]
        if policy == "ROLE":
            return r.role.replicas
        return self.replicas

    def cancel(self, grace_period: float | None = None) -> None:
        """Stop every replica (SIGTERM, SIGKILL after the grace period); end CANCELLED.

        ``grace_period`` overrides the plan's for this cancel; once replicas
        are stopping it can only bring their SIGKILL closer.
        """
        if grace_period is not None:
            self.stopper.override_grace(grace_period, stopping=self.final is not None)
        if self.final is not None:
            return
        self.final = "CANCELLED"
        self.message = "cancelled"
        self.restart.clear()
        self._stop(r for r in self.replicas if r.state == "RUNNING")
        self.stopper.start_sweep()
        self.dirty = True

    # -- stopping --------------------------------------------------------------
    def _stop(self, replicas: Any) -> None:
        for r in replicas:
            if r not in self.stopping:
                self.stopping.add(r)
                self._signal_group(r, signal.SIGTERM)

    def _signal_group(self, r: Replica, sig: int) -> None:
        assert r.proc is not None
        self.stopper.signal_group(r.proc.pid, r.pid_start, sig)

    def _advance(self) -> None:
        """Restart or finish once nothing is stopping and no group lingers.

        Before the app ends, or restarts every replica, nothing may be left of
        the replicas: not even a process that left its replica's group.
        """
        if self.stopping or self.stopper.groups or self.app_state in TERMINAL:
            return
        ending = self.final is not None or all(r.state == "SUCCEEDED" for r in self.replicas)
        if (ending or len(self.restart) == len(self.replicas)) and not self.stopper.swept():
            return
        if self.final is not None:
            for r in self.replicas:
                if r.state not in TERMINAL:
                    r.state = "CANCELLED"
                    r.message = r.message or "not run: the app ended"
                    r.attempt_done = True
            self._finish(self.final)
        elif self.restart:
            todo = sorted(self.restart, key=self.replicas.index)
            self.restart.clear()
            for r in todo:
                r.attempt += 1
                self._spawn(r)
        elif all(r.state == "SUCCEEDED" for r in self.replicas):
            self._finish("SUCCEEDED")

    def _finish(self, state: str) -> None:
        self.app_state = state
        self.finished_at = time.time()
        self.dirty = True
