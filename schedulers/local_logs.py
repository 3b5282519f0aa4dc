"""Log files of local replicas, written by the supervisor.

Each attempt of a replica has its own files in the replica's log dir, so a
retry never overwrites the log of the attempt before it::

    <attempt>.stdout      the replica's stdout, byte for byte
    <attempt>.stderr      its stderr
    <attempt>.combined    both, interleaved a whole line at a time in arrival order
    <attempt>.idx         time index of the three: records (byte offset, unix time, stream)

An index record is appended before the bytes it stamps, at most one per
millisecond and stream, so a line's time is that of the last record of its
stream at or before its first byte. Standard library only: this runs in the
forked supervisor.
"""

from __future__ import annotations

import contextlib
import os
import struct
import time

STREAMS = ("stdout", "stderr", "combined")
INDEX_RECORD = struct.Struct("<QdB")  # byte offset, unix time, index of the stream in STREAMS
# Below this gap a new chunk shares the previous index record (and its time).
INDEX_RESOLUTION_S = 0.001
# A partial line longer than this goes to the combined log anyway, ended by
# CUT_MARK, so that a writer that never ends its line (a progress bar drawn
# with \r) cannot grow the supervisor's memory forever. The .stdout/.stderr
# logs keep it whole, byte for byte (docs/schedulers/local.md, "Logs").
MAX_PARTIAL_LINE = 4 << 20
CUT_MARK = b" [torchrun_core: line over 4 MiB cut here; it goes on in the next line]\n"

_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC
# Owner-only, as the state dir: a log may hold whatever the app printed (tokens
# too), and a log_dir option may put it outside the state dir's 0700.
_FILE_MODE = 0o600
_DIR_MODE = 0o700


def make_private_dirs(path: str) -> None:
    """``os.makedirs`` whose every created level is owner-only (makedirs' mode is the leaf's)."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent and parent != path:
        make_private_dirs(parent)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, _DIR_MODE)


def log_path(replica_log_dir: str, attempt: int, stream: str) -> str:
    return f"{replica_log_dir}/{attempt}.{stream}"


def index_path(replica_log_dir: str, attempt: int) -> str:
    return f"{replica_log_dir}/{attempt}.idx"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _IndexedFile:
    """One log file, stamped in the attempt's shared time index."""

    __slots__ = ("code", "fd", "index_fd", "last_stamp", "offset")

    def __init__(self, path: str, index_fd: int, code: int) -> None:
        self.fd = os.open(path, _OPEN_FLAGS, _FILE_MODE)
        self.index_fd = index_fd
        self.code = code
        self.offset = 0
        self.last_stamp = -1.0

    def append(self, data: bytes, now: float) -> None:
        if now - self.last_stamp >= INDEX_RESOLUTION_S:
            _write_all(self.index_fd, INDEX_RECORD.pack(self.offset, now, self.code))
            self.last_stamp = now
        _write_all(self.fd, data)
        self.offset += len(data)


class AttemptLogWriter:
    """Writes one attempt of one replica: raw stdout, raw stderr and combined lines."""

    def __init__(self, replica_log_dir: str, attempt: int) -> None:
        make_private_dirs(replica_log_dir)
        self._index_fd = os.open(index_path(replica_log_dir, attempt), _OPEN_FLAGS, _FILE_MODE)
        self._files = {
            s: _IndexedFile(log_path(replica_log_dir, attempt, s), self._index_fd, code)
            for code, s in enumerate(STREAMS)
        }
        self._partial = {"stdout": b"", "stderr": b""}
        self.closed = False

    def write(self, stream: str, data: bytes) -> None:
        """Append a chunk read from the replica's ``stream`` pipe."""
        now = time.time()
        self._files[stream].append(data, now)
        cut = data.rfind(b"\n") + 1
        pending = self._partial[stream]
        if cut == 0:
            pending += data
            if len(pending) > MAX_PARTIAL_LINE:
                self._files["combined"].append(pending + CUT_MARK, now)
                pending = b""
            self._partial[stream] = pending
            return
        self._files["combined"].append(pending + data[:cut] if pending else data[:cut], now)
        self._partial[stream] = data[cut:]

    def write_line(self, stream: str, text: str) -> None:
        """Append one whole line of our own (e.g. why the replica could not start)."""
        self.write(stream, text.encode() + b"\n")

    def close(self) -> None:
        """Flush partial last lines into the combined log and close every file.

        When both streams end without a newline, the first flushed one gets a
        newline so that the two can never merge into one line; the very last
        line is kept as the replica wrote it.
        """
        if self.closed:
            return
        self.closed = True
        tails = [p for p in self._partial.values() if p]
        now = time.time()
        for i, tail in enumerate(tails):
            self._files["combined"].append(tail if i == len(tails) - 1 else tail + b"\n", now)
        for f in self._files.values():
            os.close(f.fd)
        os.close(self._index_fd)
