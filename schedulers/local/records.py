"""What the supervisor writes about its app: ``state.json`` and ``supervisor.log`` notes.

The disk may fill up while the app runs (a replica's own output can fill
it). Nothing here raises then: the supervisor must outlive a full disk,
keep the app's state true and say why its logs have gaps. So

- a state write that fails for lack of space is retried with the space of a
  reserve file set aside at the start (see ``SpaceReserve``); if it still
  fails, the old state stays (never a half file, never a stray temporary
  file) and the supervisor tries again later;
- notes that cannot be written yet are kept, and written after the next
  state write that succeeds (the released reserve leaves room for them).

Standard library only: used inside the forked supervisor.
"""

from __future__ import annotations

import errno
import time
from typing import Any

from torchrun_core.schedulers.local.state import (
    SpaceReserve,
    note_supervisor_log,
    write_state,
)

# How often to try to set the reserve aside again once it was used.
_RETAKE_S = 1.0
# How long to wait before trying again to write a state that could not be.
RETRY_WRITE_S = 0.5
_MAX_PENDING_NOTES = 100
# The errors of a disk (or quota) that is full: worth trying again later.
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT)


class AppRecords:
    """The supervisor's writes to its app dir, surviving a full disk."""

    def __init__(self, app_dir: str) -> None:
        self.app_dir = app_dir
        self.reserve = SpaceReserve(app_dir)
        self.pending: list[str] = []  # notes for supervisor.log not written yet
        self.write_error: str | None = None  # why the last state write failed
        self._next_take = 0.0

    def start(self) -> None:
        if not self.reserve.take():
            self.note("no room to set disk space aside: on a full disk the app's state may lag")

    def write(self, state: dict[str, Any]) -> bool:
        """Replace state.json with ``state``; False (the old one stays) when there is no room.

        Raises:
            OSError: any other failure.
        """
        try:
            write_state(self.app_dir, state, self.reserve)
        except OSError as err:
            if err.errno not in _NO_ROOM:  # the app dir is gone, say: waiting would not help
                raise
            why = f"cannot write state.json: {err.strerror or err}"
            if why != self.write_error:
                self.note(f"{why}; trying again")
            self.write_error = why
            return False
        if self.write_error is not None:
            self.write_error = None
            self.note("state.json written again")
        self._flush()  # first: the space a used reserve freed is for notes too
        self.room()
        return True

    def room(self) -> bool:
        """Whether the reserve is set aside, trying again (at most every second) if not.

        Logs that failed resume only then: they would otherwise take the room
        that the app's final state needs.
        """
        if self.reserve.held:  # one stat
            return True
        now = time.monotonic()
        if now < self._next_take:
            return False
        self._next_take = now + _RETAKE_S
        return self.reserve.take()

    def note(self, text: str) -> None:
        """Add a line to supervisor.log, now or once there is room."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        if len(self.pending) < _MAX_PENDING_NOTES:
            self.pending.append(f"{stamp} {text}\n")
        self._flush()

    def _flush(self) -> None:
        while self.pending:
            try:
                note_supervisor_log(self.app_dir, self.pending[0])
            except OSError:
                return
            self.pending.pop(0)

    def close(self) -> None:
        """The app has ended: a last try at the notes not written yet."""
        self._flush()
