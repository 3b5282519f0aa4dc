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
CUT_MARK = b" [torchrun-core: line over 4 MiB cut here; it goes on in the next line]\n"

# Readable too: after a failed write, the last byte tells whether a line was cut.
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC
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
        self.offset += len(data)  # after a failed write, the writer re-reads it (_resync)


class AttemptLogWriter:
    """Writes one attempt of one replica: raw stdout, raw stderr and combined lines.

    A failed write (a full disk) never raises: the chunk is dropped, ``error``
    says why and ``lost`` counts the bytes dropped, until :meth:`resume`
    (called by the supervisor once there is room again) marks the gap in the
    combined log with a line of its own and writing goes on.
    """

    def __init__(self, replica_log_dir: str, attempt: int) -> None:
        self._files: dict[str, _IndexedFile] = {}
        self._index_fd = -1
        self._partial = {"stdout": b"", "stderr": b""}
        self.closed = False
        self.error: str | None = None  # why output is being dropped now
        self.lost = 0  # bytes dropped since the last resume
        self._gaps: set[str] = {"combined"}  # files to mark where output was lost
        try:
            make_private_dirs(replica_log_dir)
            self._index_fd = os.open(index_path(replica_log_dir, attempt), _OPEN_FLAGS, _FILE_MODE)
            for code, s in enumerate(STREAMS):
                path = log_path(replica_log_dir, attempt, s)
                self._files[s] = _IndexedFile(path, self._index_fd, code)
        except OSError as err:  # no file to write to: every chunk is dropped
            self._close_files()
            self.error = f"cannot open the log files: {err.strerror or err}"

    def write(self, stream: str, data: bytes) -> None:
        """Append a chunk read from the replica's ``stream`` pipe (dropped while failing)."""
        if self.error is None:
            try:
                self._write(stream, data, time.time())
                return
            except OSError as err:
                self.error = f"cannot write the log: {err.strerror or err}"
                self._resync()
        self.lost += len(data)
        self._gaps.add(stream)

    def _write(self, stream: str, data: bytes, now: float) -> None:
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

    def _resync(self) -> None:
        """After a failed write: offsets from the files' real sizes, whole index records only."""
        self._partial = {"stdout": b"", "stderr": b""}  # their ends were dropped
        for f in self._files.values():
            f.offset = os.fstat(f.fd).st_size
        size = os.fstat(self._index_fd).st_size
        os.ftruncate(self._index_fd, size - size % INDEX_RECORD.size)

    def resume(self) -> bool:
        """Try to write again after a failure; True once writing goes on.

        Each file that lost output gets a line saying how much, on a line of
        its own, where the gap is.
        """
        if self.error is None or not self._files:
            return self.error is None
        note = f"torchrun-core: {self.lost} bytes of output lost here ({self.error})\n".encode()
        try:
            for name in sorted(self._gaps):
                f = self._files[name]
                cut = f.offset > 0 and os.pread(f.fd, 1, f.offset - 1) != b"\n"
                f.append(b"\n" + note if cut else note, time.time())
        except OSError:
            self._resync()
            return False
        self.error, self._gaps, self.lost = None, {"combined"}, 0
        return True

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
        try:
            for i, tail in enumerate(tails):
                if self.error is None:
                    last = i == len(tails) - 1
                    self._files["combined"].append(tail if last else tail + b"\n", now)
        except OSError as err:
            self.error = f"cannot write the log: {err.strerror or err}"
        self._close_files()

    def _close_files(self) -> None:
        for f in self._files.values():
            os.close(f.fd)
        if self._index_fd >= 0:
            os.close(self._index_fd)
