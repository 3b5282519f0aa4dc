"""``AppRun``: how code inside a job reports params, metrics, progress, artifacts and lineage.

An AppRun is made from the ``TORCHRUN_CORE_*`` env the Runner injects into
every role, and fans every call out to the configured tracker backends
(``TORCHRUN_CORE_TRACKERS``, each from the ``torchrun_core_trackers`` hook).
Outside a torchrun_core job it does nothing, after one warning. A backend
that fails is dropped with a warning: tracking never breaks the job. Bad
*values* (a non-numeric metric, a negative step) are the caller's bug and
raise :class:`~torchrun_core.errors.InvalidInputError`.
"""

from __future__ import annotations

import atexit
import os
import socket
import threading
import time
from collections.abc import Mapping
from operator import index
from types import TracebackType
from typing import Any

from torchrun_core.errors import InvalidInputError
from torchrun_core.tracking.backend import TrackerBackend, load_backends, tracker_names, warn
from torchrun_core.tracking.records import RunContext

APP_HANDLE_ENV = "TORCHRUN_CORE_APP_HANDLE"
PARENT_RUN_ID_ENV = "TORCHRUN_CORE_PARENT_RUN_ID"
ROLE_ENV = "TORCHRUN_CORE_ROLE"
REPLICA_ID_ENV = "TORCHRUN_CORE_REPLICA_ID"


def _number(what: str, value: Any) -> float:
    """``value`` as a float: ints, floats and anything with ``__float__`` (numpy, tensors)."""
    if type(value) is float:
        return value
    if isinstance(value, (str, bytes)):
        raise InvalidInputError(f"{what} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{what} must be a number, got {value!r}") from None


def _step(step: Any) -> int | None:
    if step is None:
        return None
    if type(step) is not int:
        try:
            step = index(step)  # numpy ints, not floats or bools' lookalikes
        except TypeError:
            raise InvalidInputError(f"step must be an int, got {step!r}") from None
    if step < 0:
        raise InvalidInputError(f"step must be >= 0, got {step}")
    return int(step)


def _tag(what: str, tag: Any) -> str:
    if type(tag) is not str or not tag:
        raise InvalidInputError(f"{what} must be a non-empty string, got {tag!r}")
    return tag


class AppRun:
    """The current job's run, reporting to every configured tracker.

    Use :func:`app_run` (or :meth:`from_env`) inside a job; an AppRun is a
    context manager that closes (flushes) its backends at exit.

    Args:
        context: who reports (handle, parent, role, replica).
        backends: ``(name, backend)`` pairs, each already started or not
            (see ``started``).
        started: whether the backends' ``start`` was called.
    """

    def __init__(
        self,
        context: RunContext,
        backends: list[tuple[str, TrackerBackend]] | None = None,
        *,
        started: bool = False,
    ) -> None:
        self.context = context
        self._backends: list[tuple[str, TrackerBackend]] = []
        self._lock = threading.Lock()
        self._closed = False
        for name, backend in backends or []:
            if started or self._guarded(name, backend, "start", context):
                self._backends.append((name, backend))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, registry: Any = None) -> AppRun:
        """The AppRun described by ``environ`` (default: this process's env).

        Without ``TORCHRUN_CORE_APP_HANDLE`` (a program started outside
        torchrun_core), a no-op AppRun, after a :class:`TrackingWarning`.
        """
        env = os.environ if environ is None else environ
        handle = env.get(APP_HANDLE_ENV, "")
        context = RunContext(
            handle=handle,
            parent_run_id=env.get(PARENT_RUN_ID_ENV) or None,
            role=env.get(ROLE_ENV, ""),
            replica_id=env.get(REPLICA_ID_ENV, ""),
            host=socket.gethostname(),
            pid=os.getpid(),
        )
        if not handle:
            warn(
                f"{APP_HANDLE_ENV} is not set: not running inside a torchrun_core job, "
                "so tracking calls do nothing"
            )
            return cls(context)
        names = tracker_names(env)
        return cls(context, load_backends(names, env, registry) if names else [])

    # -- who am I ---------------------------------------------------------------
    @property
    def handle(self) -> str:
        """The job's handle, ``""`` outside a job."""
        return self.context.handle

    @property
    def parent_run_id(self) -> str | None:
        return self.context.parent_run_id

    @property
    def enabled(self) -> bool:
        """Whether any backend is reporting (False: every call does nothing)."""
        return bool(self._backends)

    @property
    def trackers(self) -> list[str]:
        """The names of the backends still reporting."""
        return [name for name, _ in self._backends]

    # -- reporting --------------------------------------------------------------
    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record hyper-parameters (values are stored as given, or as their ``str``)."""
        if not isinstance(params, Mapping):
            raise InvalidInputError(f"params must be a mapping, got {type(params).__name__}")
        clean = {_tag("a param name", k): v for k, v in params.items()}
        self._fan_out("log_params", clean, time.time())

    def log_metric(self, tag: str, value: float, step: int | None = None) -> None:
        """Record ``value`` of metric ``tag`` at global ``step`` (cheap: buffered)."""
        if type(tag) is not str or not tag:
            _tag("a metric tag", tag)
        if type(value) is not float:
            value = _number(f"metric {tag!r}", value)
        if step is not None and (type(step) is not int or step < 0):
            step = _step(step)
        now = time.time()
        for name, backend in self._backends:
            try:
                backend.log_metric(tag, value, step, now)
            except Exception as err:
                self._drop(name, backend, "log_metric", err)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record several metrics at the same ``step``."""
        clean = {_tag("a metric tag", k): _number(f"metric {k!r}", v) for k, v in metrics.items()}
        self._fan_out("log_metrics", clean, _step(step), time.time())

    def log_artifact(
        self,
        name: str,
        path: str | os.PathLike[str],
        kind: str = "file",
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Record that the job wrote ``path`` (not copied: the path is recorded)."""
        record = {
            "n": _tag("an artifact name", name),
            "p": os.fspath(path),
            "kind": _tag("an artifact kind", kind),
            "md": dict(metadata or {}),
        }
        self._fan_out("log_artifact", record, time.time())

    def log_checkpoint(
        self,
        path: str | os.PathLike[str],
        step: int,
        complete: bool = True,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Record a checkpoint at global ``step``.

        Log it with ``complete=False`` before writing it, and again with
        ``complete=True`` (same path) once it is whole: a crash in between
        leaves it listed as incomplete.
        """
        record = {
            "n": os.path.basename(os.fspath(path)) or os.fspath(path),
            "p": os.fspath(path),
            "kind": "checkpoint",
            "md": dict(metadata or {}),
            "s": _step(step),
            "c": bool(complete),
        }
        self._fan_out("log_artifact", record, time.time())

    def report_progress(
        self,
        operation: str,
        value: float,
        final_value: float | None = None,
        units: str | None = None,
    ) -> None:
        """Say how far ``operation`` has got: ``value`` out of ``final_value`` ``units``."""
        final = None if final_value is None else _number("final_value", final_value)
        if units is not None and not isinstance(units, str):
            raise InvalidInputError(f"units must be a string, got {units!r}")
        op = _tag("a progress operation", operation)
        number = _number("progress value", value)
        self._fan_out("report_progress", op, number, final, units, time.time())

    def add_source(self, run_id_or_uri: str, kind: str | None = None) -> None:
        """Record lineage: a run (handle) or data URI this job used."""
        self._fan_out("add_source", _tag("a source", run_id_or_uri), kind, time.time())

    # -- lifetime ---------------------------------------------------------------
    def flush(self) -> None:
        """Make everything reported so far visible to readers."""
        self._fan_out("flush")

    def close(self) -> None:
        """Flush and close every backend; later calls do nothing (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._fan_out("close")
        self._backends = []

    def __enter__(self) -> AppRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AppRun({self.handle!r}, trackers={self.trackers})"

    # -- fan-out ----------------------------------------------------------------
    def _fan_out(self, method: str, *args: Any) -> None:
        for name, backend in list(self._backends):
            self._guarded(name, backend, method, *args)

    def _guarded(self, name: str, backend: TrackerBackend, method: str, *args: Any) -> bool:
        try:
            getattr(backend, method)(*args)
        except Exception as err:
            self._drop(name, backend, method, err)
            return False
        return True

    def _drop(self, name: str, backend: TrackerBackend, method: str, err: Exception) -> None:
        warn(f"tracker {name!r} failed in {method} and is turned off: {type(err).__name__}: {err}")
        self._backends = [(n, b) for n, b in self._backends if b is not backend]


_current: AppRun | None = None
_current_lock = threading.Lock()


def app_run() -> AppRun:
    """This process's AppRun, made from the env on first use and closed at exit."""
    global _current
    with _current_lock:
        if _current is None:
            _current = AppRun.from_env()
            atexit.register(_current.close)
        return _current


def reset_app_run() -> None:
    """Close and forget this process's AppRun (tests; a process that changed its env)."""
    global _current
    with _current_lock:
        current, _current = _current, None
    if current is not None:
        current.close()


__all__ = ["AppRun", "app_run", "reset_app_run"]
