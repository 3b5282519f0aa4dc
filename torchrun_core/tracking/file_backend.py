"""The ``file`` tracker: append-only JSONL per reporting process, under a root directory.

Lines are buffered in memory and written with one ``os.write`` per flush
(every 4096 lines, every second from a daemon thread, on progress and
checkpoint reports, and at close/exit), so logging a metric costs a string
format and a list append. Each process writes its own file (see
:mod:`~torchrun_core.tracking.file_layout`), so concurrent replicas never
interleave, and a reader sees whole lines only, except a last partial one
which it skips.
"""

from __future__ import annotations

import json
import os
import threading
import weakref
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from torchrun_core.tracking.file_layout import job_root, process_file_name, run_dir

if TYPE_CHECKING:
    from torchrun_core.tracking.records import RunContext

FLUSH_LINES = 4096
FLUSH_INTERVAL_S = 1.0
_NON_FINITE = {"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}
_live: weakref.WeakSet[FileBackend] = weakref.WeakSet()


class FileBackend:
    """Writes one run's records to ``<root>/<scheduler>/<session>/<app_id>/<process>.jsonl``.

    Args:
        config: the root directory (``~`` expanded, ``file://`` allowed,
            ``${NAME}`` taken from this process's env);
            None: :func:`~torchrun_core.tracking.file_layout.default_root`.

    Raises:
        ValueError: ``config`` names a variable this process's env lacks.
    """

    def __init__(self, config: str | None = None) -> None:
        self.root = job_root(config, os.environ)
        self.path: str | None = None
        self._fd = -1
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._tags: dict[str, str] = {}  # tag -> its JSON form, encoded once
        self._closed = threading.Event()
        self._flusher: threading.Thread | None = None
        self._run: RunContext | None = None
        self._child_run: RunContext | None = None  # set in a forked child until it writes

    def start(self, run: RunContext) -> None:
        """Create the run's directory and this process's file, and record the start."""
        directory = run_dir(self.root, run.handle)
        directory.mkdir(parents=True, exist_ok=True)
        name = process_file_name(run.role, run.replica_id, run.host, run.pid)
        self.path = str(directory / name)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._run = run
        _live.add(self)
        record = {
            "t": "r",
            "h": run.handle,
            "parent": run.parent_run_id,
            "role": run.role,
            "replica": run.replica_id,
            "host": run.host,
            "pid": run.pid,
        }
        self._write_now(record)

    # -- the hot path ---------------------------------------------------------
    def log_metric(self, tag: str, value: float, step: int | None, timestamp: float) -> None:
        key = self._tags.get(tag)
        if key is None:
            key = self._tags[tag] = json.dumps(tag)
        text = repr(value)
        if text in _NON_FINITE:
            text = _NON_FINITE[text]
        line = (
            f'{{"t":"m","k":{key},"v":{text},"s":{"null" if step is None else step},'
            f'"w":{timestamp:.6f}}}\n'
        )
        with self._lock:
            self._lines.append(line)
            full = len(self._lines) >= FLUSH_LINES
        if full:
            self.flush()
        elif self._flusher is None:
            self._start_flusher()

    def log_metrics(self, metrics: Mapping[str, float], step: int | None, timestamp: float) -> None:
        for tag, value in metrics.items():
            self.log_metric(tag, value, step, timestamp)

    # -- rare records: written at once, so that readers see them soon ----------
    def log_params(self, params: Mapping[str, Any], timestamp: float) -> None:
        self._write_now({"t": "p", "d": dict(params), "w": timestamp})

    def log_artifact(self, artifact: Mapping[str, Any], timestamp: float) -> None:
        self._write_now({"t": "a", **artifact, "w": timestamp})

    def report_progress(
        self,
        operation: str,
        value: float,
        final_value: float | None,
        units: str | None,
        timestamp: float,
    ) -> None:
        record = {"t": "g", "k": operation, "v": value, "f": final_value, "u": units}
        self._write_now({**record, "w": timestamp})

    def add_source(self, source: str, kind: str | None, timestamp: float) -> None:
        self._write_now({"t": "l", "src": source, "kind": kind, "w": timestamp})

    def _write_now(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, default=str, separators=(",", ":")) + "\n"
        with self._lock:
            self._lines.append(line)
        self.flush()

    # -- writing ----------------------------------------------------------------
    def flush(self) -> None:
        """Append the buffered lines to the file in one write."""
        if self._child_run is not None:
            self._start_in_child()
        with self._lock:
            if not self._lines or self._fd < 0:
                return
            data = "".join(self._lines).encode()
            self._lines.clear()
            view = memoryview(data)
            while view:  # a regular file takes it all at once; loop in case it does not
                written = os.write(self._fd, view)
                view = view[written:]

    def close(self) -> None:
        """Flush, stop the flusher thread and close the file (idempotent)."""
        self._closed.set()
        self.flush()
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        _live.discard(self)

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher is not None:
                return
            self._flusher = threading.Thread(
                target=self._flush_every_interval, name="torchrun_core-file-tracker", daemon=True
            )
        self._flusher.start()

    def _flush_every_interval(self) -> None:
        while not self._closed.wait(FLUSH_INTERVAL_S):
            try:
                self.flush()
            except OSError:  # e.g. the disk is full: the next flush or close tries again
                continue

    def _forget_parent_state(self) -> None:
        """In a forked child: the parent owns the buffer, the file and the flusher.

        The child gets its own file, made when it first writes (a DataLoader
        worker that never logs leaves none).
        """
        self._lock = threading.Lock()
        self._lines = []
        self._fd = -1
        self._flusher = None
        if self._run is not None and not self._closed.is_set():
            self._child_run = replace(self._run, pid=os.getpid())
        self._closed = threading.Event()

    def _start_in_child(self) -> None:
        run, self._child_run = self._child_run, None
        if run is not None:
            lines, self._lines = self._lines, []
            self.start(run)
            with self._lock:
                self._lines.extend(lines)


def _after_fork_in_child() -> None:
    for backend in list(_live):
        backend._forget_parent_state()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

__all__ = ["FLUSH_INTERVAL_S", "FLUSH_LINES", "FileBackend"]
