"""Print the output of several replicas: one after another, or interleaved while they run."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from torchrun_core.cli import gc_policy
from torchrun_core.specs.replicas import ReplicaRef, replicas_of, replicas_of_status

if TYPE_CHECKING:
    from torchrun_core.runner import Runner

# Bounded so that fast readers wait for a slow terminal instead of filling memory.
_MAX_BUFFERED = 100_000


def print_logs(
    runner: Runner,
    handle: str,
    replicas: Sequence[ReplicaRef],
    *,
    follow: bool,
    **filters: Any,
) -> None:
    """Write every line of ``replicas`` to stdout.

    Lines are prefixed with ``role/replica `` only when there are several
    replicas. With ``follow``, replicas are read concurrently (until the app
    ends) and lines are flushed as they come; otherwise each replica's lines
    are written in turn. ``filters`` go to ``Runner.log_lines``.
    """
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")  # an app may print any bytes
    prefixed = len(replicas) > 1
    # Opened here, in this thread, so that an unknown app or role fails at once.
    sources = [
        (
            f"{ref} " if prefixed else "",
            runner.log_lines(handle, ref.role, ref.replica, should_tail=follow, **filters),
        )
        for ref in replicas
    ]
    if follow:
        gc_policy.resume()  # following may last for hours
        _interleave(sources)
    else:
        for prefix, lines in sources:
            _write_lines(prefix, lines)
    sys.stdout.flush()


def _complete(line: str) -> str:
    # A file's last line may lack its newline; never glue it to another replica's line.
    return line if line.endswith("\n") else line + "\n"


def _write_lines(prefix: str, lines: Iterable[str]) -> None:
    write = sys.stdout.write
    for line in lines:
        write(prefix + _complete(line))


class _LineBuffer:
    """Lines from several reader threads, handed to the writer in batches.

    A queue item per line costs more than printing it; here a reader only
    appends under a lock, and wakes the writer when the buffer was empty.
    """

    def __init__(self, readers: int, max_lines: int = _MAX_BUFFERED) -> None:
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)
        self._ready = threading.Event()
        self._lines: list[str] = []
        self._max = max_lines
        self._running = readers
        self._error: BaseException | None = None

    def put(self, line: str) -> None:
        with self._lock:
            while len(self._lines) >= self._max:  # a slow terminal holds the readers back
                self._drained.wait()
            self._lines.append(line)
            first = len(self._lines) == 1
        if first:
            self._ready.set()

    def finish(self, error: BaseException | None = None) -> None:
        with self._lock:
            self._running -= 1
            self._error = self._error or error
        self._ready.set()

    def take(self) -> tuple[list[str], bool, BaseException | None]:
        """(the lines buffered so far, whether all readers ended, a reader's error); blocks."""
        self._ready.wait()
        with self._lock:
            # Cleared together with the swap, so that no reader's wake-up is lost.
            self._ready.clear()
            lines, self._lines = self._lines, []
            self._drained.notify_all()
            return lines, self._running == 0, self._error


def _pump(prefix: str, lines: Iterator[str], out: _LineBuffer) -> None:
    try:
        for line in lines:
            out.put(prefix + _complete(line))
    except BaseException as err:  # handed to the writing thread, which raises it
        out.finish(err)
    else:
        out.finish()


def _interleave(sources: Sequence[tuple[str, Iterator[str]]]) -> None:
    out = _LineBuffer(len(sources))
    for prefix, source in sources:
        # Daemons: on Ctrl-C the main thread returns without waiting for them.
        threading.Thread(target=_pump, args=(prefix, source, out), daemon=True).start()
    done = False
    while not done:
        batch, done, error = out.take()
        sys.stdout.write("".join(batch))
        sys.stdout.flush()  # once per batch: live, yet cheap for a chatty app
        if error is not None:
            raise error


# The replica helpers moved to torchrun_core.specs.replicas (the dashboard uses them too).
__all__ = ["ReplicaRef", "print_logs", "replicas_of", "replicas_of_status"]
