"""How the supervisor stops processes: SIGTERM, then SIGKILL after the grace period.

Two reaches, with one deadline: each replica's process group (what a
replica starts stays in it, unless it calls ``setsid``), and, when the app
ends or restarts every replica, every process still descended from the
supervisor (see ``descendants``). Standard library only: used inside
the forked supervisor.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

from torchrun_core.schedulers.local.descendants import KILL_WAIT_S, DescendantSweep
from torchrun_core.schedulers.local.state import kill_group

# How often to look whether a signalled process group is empty yet.
_GROUP_POLL_S = 0.01
# How often to look for leftover descendants while sweeping (a scan of /proc).
_SWEEP_POLL_S = 0.05


@dataclass
class SignalledGroup:
    """A process group sent SIGTERM: SIGKILL follows at ``deadline`` unless it empties."""

    leader_start: int | None
    deadline: float
    killed: bool = False


class Stopper:
    """The signalled process groups and the descendant sweep of one supervisor."""

    def __init__(self, grace_period: float) -> None:
        self.grace_period = grace_period  # a cancel may override it
        self.groups: dict[int, SignalledGroup] = {}  # by pgid
        self.sweep: DescendantSweep | None = None

    def timeout(self) -> float | None:
        """How long the supervisor's loop may sleep before the next check is due."""
        if not self.groups:
            return None if self.sweep is None else _SWEEP_POLL_S
        deadline = min(g.deadline for g in self.groups.values())
        return max(0.0, min(_GROUP_POLL_S, deadline - time.time()))

    def override_grace(self, grace_period: float, stopping: bool) -> None:
        """Take a cancel's grace period; once ``stopping`` it may hurry, never delay, the kill."""
        if stopping:
            self.grace_period = min(self.grace_period, grace_period)
        else:
            self.grace_period = grace_period
        limit = time.time() + self.grace_period
        for group in self.groups.values():
            if not group.killed:
                group.deadline = min(group.deadline, limit)
        if self.sweep is not None:
            self.sweep.hurry(limit)

    def signal_group(self, pgid: int, leader_start: int | None, sig: int) -> None:
        """Signal a replica's group, and watch it until it empties."""
        if kill_group(pgid, leader_start, sig) and pgid not in self.groups:
            self.groups[pgid] = SignalledGroup(leader_start, time.time() + self.grace_period)

    def check_groups(self) -> None:
        """Forget emptied process groups; SIGKILL those past their grace period."""
        now = time.time()
        for pgid, group in list(self.groups.items()):
            try:
                os.killpg(pgid, 0)
            except (ProcessLookupError, PermissionError):
                del self.groups[pgid]
                continue
            if now < group.deadline:
                continue
            if group.killed:  # unkillable, or a zombie someone else must reap: stop waiting
                del self.groups[pgid]
            else:
                kill_group(pgid, group.leader_start, signal.SIGKILL)
                group.deadline, group.killed = now + KILL_WAIT_S, True

    def start_sweep(self) -> None:
        """Stop every descendant too, whatever its group: the app ends or restarts whole.

        Replica groups just signalled are spared a second SIGTERM; whatever is
        left at the end of the grace period is SIGKILLed.
        """
        if self.sweep is None:
            self.sweep = DescendantSweep(os.getpid(), time.time() + self.grace_period)
            self.sweep.step(time.time(), set(self.groups))

    def swept(self) -> bool:
        """Whether no descendant is left, sweeping them first if need be."""
        if self.sweep is None:
            self.sweep = DescendantSweep(os.getpid(), time.time() + self.grace_period)
        if not self.sweep.step(time.time(), set(self.groups)):
            return False
        self.sweep = None
        return True
