"""Every process descended from the supervisor, found and stopped even outside its group.

Signalling a replica's process group reaches what it started, unless a
child left the group: a daemon's ``setsid()`` and double fork does. Such an
orphan is re-parented to its nearest *child subreaper* ancestor, and the
supervisor makes itself one (``prctl(PR_SET_CHILD_SUBREAPER)``, Linux 3.4+):
so whatever descends from a replica stays in the supervisor's process tree,
found by following parent links in ``/proc``, until it exits.

Where the prctl is refused (or on a kernel without it), orphans go to init
and only process groups can be reached; the supervisor says so in
``supervisor.log``. Standard library only: this runs in the forked supervisor.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from dataclasses import dataclass, field

from torchrun_core.schedulers.local.state import proc_stat

_PR_SET_CHILD_SUBREAPER = 36
# How long SIGKILLed descendants may take to vanish before we stop waiting
# (a process in uninterruptible sleep dies only when its I/O returns).
KILL_WAIT_S = 2.0
# Rounds of reading the tree and stopping what is new, before killing it all:
# each round stops every process found, so only a fork racing the read adds one.
_MAX_FREEZE_ROUNDS = 10


def become_subreaper() -> str | None:
    """Make this process a child subreaper; None on success, else why not."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0:
            return None
        return os.strerror(ctypes.get_errno())
    except (OSError, AttributeError) as err:  # no libc prctl: not Linux
        return str(err)


@dataclass(frozen=True)
class Proc:
    """A live process: its pid, start time (ticks after boot) and process group."""

    pid: int
    start: int
    pgid: int


def _stat(pid: str) -> tuple[int, int, int, bool] | None:
    """``(ppid, pgid, start, zombie)`` of ``pid``, None once it is gone."""
    fields = proc_stat(pid)
    if fields is None:
        return None
    return int(fields[1]), int(fields[2]), int(fields[19]), fields[0] in (b"Z", b"X")


def has_children() -> bool:
    """Whether this process has a child, live or zombie (one syscall, no /proc scan).

    Once every replica has exited, anything left below a subreaper is its
    child: whatever outlived its parent was re-parented to it.
    """
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True


def descendants(root: int) -> list[Proc]:
    """Every live (not zombie) process below ``root`` in the process tree."""
    if root == os.getpid() and not has_children():
        return []  # the common end of an app: no need to read all of /proc
    children: dict[int, list[tuple[int, int, int, bool]]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        info = _stat(name)
        if info is not None:
            ppid, pgid, start, zombie = info
            children.setdefault(ppid, []).append((int(name), pgid, start, zombie))
    found: list[Proc] = []
    todo = [root]
    while todo:
        for pid, pgid, start, zombie in children.get(todo.pop(), ()):
            todo.append(pid)
            if not zombie:
                found.append(Proc(pid, start, pgid))
    return found


def signal_process(proc: Proc, sig: int) -> None:
    """Send ``sig`` to ``proc`` unless its pid now names another process.

    Through a pidfd, the check and the signal concern the same process even
    if ``proc`` exits and its pid is reused in between.
    """
    try:
        fd = os.pidfd_open(proc.pid)
    except OSError:  # gone already
        return
    try:
        info = _stat(str(proc.pid))
        if info is not None and info[2] == proc.start:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(fd, sig)
    finally:
        os.close(fd)


def kill_tree(root: Proc) -> None:
    """SIGKILL ``root`` (another process) and every process below it.

    All are stopped (SIGSTOP) first, the root first: a stopped process forks
    nothing, and what is orphaned meanwhile is re-parented to the stopped
    root (a subreaper), so the tree read from /proc is whole.
    """
    signal_process(root, signal.SIGSTOP)
    stopped: set[Proc] = set()
    for _ in range(_MAX_FREEZE_ROUNDS):
        fresh = [p for p in descendants(root.pid) if p not in stopped]
        if not fresh:
            break
        for proc in fresh:
            signal_process(proc, signal.SIGSTOP)
        stopped.update(fresh)
    for proc in stopped:
        signal_process(proc, signal.SIGKILL)
    signal_process(root, signal.SIGKILL)


@dataclass
class DescendantSweep:
    """Stops every descendant of ``root``: SIGTERM at once, SIGKILL at ``deadline``.

    Processes in a group of ``spared`` (replica groups, signalled as a
    whole by the supervisor) get no SIGTERM of their own, so that no replica
    sees two; every descendant still alive at the deadline is SIGKILLed.
    """

    root: int
    deadline: float
    termed: set[Proc] = field(default_factory=set)
    killed_at: float | None = None

    def hurry(self, deadline: float) -> None:
        """Bring the SIGKILL closer (a later cancel with a shorter grace period)."""
        if self.killed_at is None:
            self.deadline = min(self.deadline, deadline)

    def step(self, now: float, spared: set[int]) -> bool:
        """Signal what is due; True once no descendant is left (or the rest is unkillable)."""
        alive = descendants(self.root)
        if not alive:
            return True
        if self.killed_at is not None and now >= self.killed_at + KILL_WAIT_S:
            return True  # stuck in the kernel: waiting longer would not help
        if now >= self.deadline:
            for proc in alive:
                signal_process(proc, signal.SIGKILL)
            self.killed_at = self.killed_at or now
            return False
        for proc in alive:
            if proc not in self.termed and proc.pgid not in spared:
                self.termed.add(proc)
                signal_process(proc, signal.SIGTERM)
        return False
