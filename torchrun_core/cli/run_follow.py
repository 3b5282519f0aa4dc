"""``run --wait``: print an app's output while waiting for it, and stop when it is decided.

The end is what ``Runner.wait`` decides, not the log followers: when a
replica fails, the scheduler stops its siblings on the way (Kubernetes
deletes their Jobs), and a follower of a sibling being stopped may go on for
that sibling's whole grace period. So, once ``wait`` returns, the followers
of replicas that ended (not those being stopped) get :data:`DRAIN_S` seconds
to reach the end of their output; any follower still going then (or that
failed, say at an API server restart) is stopped, and
the rest of its replica's output is read once without following, skipping
the lines already printed. Every line written up to the end is printed
whole, once.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from torchrun_core.cli import gc_policy
from torchrun_core.errors import TorchrunCoreError
from torchrun_core.specs.state import AppState

if TYPE_CHECKING:
    from torchrun_core.cli.log_stream import ReplicaRef
    from torchrun_core.runner import Runner
    from torchrun_core.specs.status import AppStatus

# Once the app is decided, how long followers may take to reach its end by
# themselves: enough for a local or docker follower to read its last lines,
# short next to a stopped sibling's grace period.
DRAIN_S = 1.0
# Bounded so that fast readers wait for a slow terminal instead of filling memory.
_MAX_BUFFERED = 100_000


class _Pending:
    """Lines the followers read and the writer has not written yet.

    ``counts[i]`` is how many lines follower ``i`` handed over; after
    :meth:`stop` no more are taken, so the counts say exactly what was printed.
    """

    def __init__(self, followers: int) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._lines: list[str] = []
        self._running = followers
        self._stopped = False
        self.counts = [0] * followers
        self.ended = [False] * followers
        self.finished = [False] * followers  # read to the end, without an error

    def put(self, i: int, line: str) -> bool:
        """Hand over a line of follower ``i``; False once stopped (the line is dropped)."""
        with self._lock:
            while len(self._lines) >= _MAX_BUFFERED and not self._stopped:
                self._changed.wait()  # a slow terminal holds the followers back
            if self._stopped:
                return False
            self._lines.append(line)
            self.counts[i] += 1
            if len(self._lines) == 1:  # the writer only sleeps on an empty buffer
                self._changed.notify_all()
            return True

    def finish(self, i: int, ok: bool) -> None:
        with self._lock:
            self._running -= 1
            self.ended[i] = True
            self.finished[i] = ok
            self._changed.notify_all()

    def take(self) -> tuple[list[str], bool]:
        """The lines so far (blocks until some), and whether no more will come."""
        with self._lock:
            while not self._lines and self._running and not self._stopped:
                self._changed.wait()
            lines, self._lines = self._lines, []
            self._changed.notify_all()
            return lines, not self._running or self._stopped

    def settle(self, followers: Sequence[int], timeout: float) -> None:
        """Block until these followers ended, or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while (
                not all(self.ended[i] for i in followers)
                and (left := deadline - time.monotonic()) > 0
            ):
                self._changed.wait(left)

    def stop(self) -> None:
        """Take no more lines; followers still reading drop theirs and end."""
        with self._lock:
            self._stopped = True
            self._changed.notify_all()


def _complete(line: str) -> str:
    # A file's last line may lack its newline; never glue it to another replica's line.
    return line if line.endswith("\n") else line + "\n"


def _pump(pending: _Pending, i: int, prefix: str, lines: Iterator[str]) -> None:
    ok = False
    try:
        for line in lines:
            if not pending.put(i, prefix + _complete(line)):
                break
        else:
            ok = True
    except Exception:  # the catch-up read after the end gets what this one missed
        pass
    finally:
        pending.finish(i, ok)


def _write(pending: _Pending) -> None:
    while True:
        lines, over = pending.take()
        if lines:
            sys.stdout.write("".join(lines))
            sys.stdout.flush()  # once per batch: live, yet cheap for a chatty app
        if over:
            return


def wait_printing(runner: Runner, handle: str, replicas: Sequence[ReplicaRef]) -> AppStatus:
    """``runner.wait(handle)`` while printing the output of ``replicas`` as it comes.

    Lines are prefixed with ``role/replica `` when there are several replicas.
    Returns once the app is decided and its output up to then is printed.
    """
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")  # an app may print any bytes
    prefixes = [f"{ref} " if len(replicas) > 1 else "" for ref in replicas]
    # Opened here, in this thread, so that an unknown app or role fails at once.
    sources = [runner.log_lines(handle, r.role, r.replica, should_tail=True) for r in replicas]
    gc_policy.resume()  # waiting may last for hours
    pending = _Pending(len(sources))
    for i, lines in enumerate(sources):
        # Daemons: a follower of a replica still being stopped is left behind at the end.
        threading.Thread(target=_pump, args=(pending, i, prefixes[i], lines), daemon=True).start()
    writer = threading.Thread(target=_write, args=(pending,), daemon=True)
    writer.start()
    try:
        status = runner.wait(handle)
    except BaseException:  # Ctrl-C or an error: print what was read, then stop
        pending.stop()
        writer.join()
        raise
    # A replica being stopped (a failed one's sibling) is not waited for at all.
    stopped = [_being_stopped(status, ref) for ref in replicas]
    pending.settle([i for i, s in enumerate(stopped) if not s], DRAIN_S)
    pending.stop()
    writer.join()
    for i, ref in enumerate(replicas):
        if not pending.finished[i]:
            _catch_up(runner, handle, ref, prefixes[i], pending.counts[i], quiet=stopped[i])
    sys.stdout.flush()
    return status


def _being_stopped(status: AppStatus, ref: ReplicaRef) -> bool:
    """Whether the app ended with ``ref`` CANCELLED: its follower may go on for a while."""
    return any(
        r.state is AppState.CANCELLED
        for role in status.roles
        if role.role == ref.role
        for r in role.replicas
        if r.id == ref.replica
    )


def _catch_up(
    runner: Runner, handle: str, ref: ReplicaRef, prefix: str, printed: int, quiet: bool
) -> None:
    """Print replica ``ref``'s lines after its first ``printed`` ones, read once.

    ``quiet``: the replica is being stopped, and may be gone already (a pod
    deleted with its Job): then there is nothing to say.
    """
    try:
        for n, line in enumerate(runner.log_lines(handle, ref.role, ref.replica)):
            if n >= printed:
                sys.stdout.write(prefix + _complete(line))
    except Exception as err:  # the app's outcome stands; say what is missing
        if quiet:
            return
        what = str(err) if isinstance(err, TorchrunCoreError) else f"{type(err).__name__}: {err}"
        sys.stdout.flush()
        sys.stderr.write(f"warning: the output of {ref} after line {printed} is lost: {what}\n")
