"""Log lines of one replica, read from the job dir over SFTP from where the last read stopped.

Each replica writes ``<role>-<k>.out`` and ``<role>-<k>.err`` in the job dir
(srun's ``--output``/``--error`` with ``%t``). A follower keeps one offset per
file and reads only what is new, so following a log costs one small SFTP
read per poll, never a copy of the whole file. Only whole lines are yielded;
a last line without a newline is yielded once the job has ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from torchrun_core.scheduler import Stream
from torchrun_core.schedulers.slurm.ssh_transport import Transport

# Follow mode polls the files this often, and the job's state every few polls.
_POLL_S = 0.25
_STATE_EVERY = 4


class LogFollower:
    """Reads one replica's output files incrementally."""

    def __init__(
        self,
        transport: Transport,
        job_dir: str,
        role: str,
        replica: int,
        streams: Stream,
        is_done: Callable[[], bool],
    ) -> None:
        names = {Stream.STDOUT: ["out"], Stream.STDERR: ["err"]}.get(streams, ["out", "err"])
        self.paths = [f"{job_dir}/{role}-{replica}.{ext}" for ext in names]
        self.offsets = dict.fromkeys(self.paths, 0)
        self.partial = dict.fromkeys(self.paths, b"")
        self.transport = transport
        self.is_done = is_done

    def _read_new(self, path: str) -> list[str]:
        """The whole lines appended to ``path`` since the last read."""
        lines: list[str] = []
        while True:
            chunk = self.transport.read_from(path, self.offsets[path])
            if not chunk:
                return lines
            self.offsets[path] += len(chunk)
            data = self.partial[path] + chunk
            head, sep, rest = data.rpartition(b"\n")
            self.partial[path] = rest
            if sep:
                lines += (head + b"\n").decode(errors="replace").splitlines(keepends=True)

    def _flush(self) -> Iterator[str]:
        for path in self.paths:
            if self.partial[path]:
                yield self.partial[path].decode(errors="replace") + "\n"
                self.partial[path] = b""

    def lines(self, follow: bool) -> Iterator[str]:
        """Every line so far; with ``follow``, then new lines until the job ends."""
        polls = 0
        while True:
            done = not follow or (polls % _STATE_EVERY == 0 and self.is_done())
            for path in self.paths:
                yield from self._read_new(path)
            if done:
                if follow:  # lines written between the state check and the reads above
                    for path in self.paths:
                        yield from self._read_new(path)
                yield from self._flush()
                return
            polls += 1
            time.sleep(_POLL_S)
