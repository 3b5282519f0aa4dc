"""The Scheduler base class every scheduler plugin subclasses.

Public methods are template methods: they validate, translate and check,
then call a few small abstract ``_methods`` that talk to the engine.
"""

from __future__ import annotations

import abc
import builtins
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Generic, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from torchrun_core.errors import AppNotFoundError, InvalidInputError, InvalidOptionError
from torchrun_core.specs.app import AppDef
from torchrun_core.specs.dryrun import AppDryRunInfo
from torchrun_core.specs.state import AppState
from torchrun_core.specs.status import AppStatus

# Re-exported: part of the scheduler SPI, for plugins placing the file tracker.
from torchrun_core.specs.tracker_root import TrackerRoot as TrackerRoot
from torchrun_core.specs.tracker_root import mounts_path as mounts_path


class SchedulerOptions(BaseModel):
    """Base of every scheduler's run options; unknown options are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


OptionsT = TypeVar("OptionsT", bound=SchedulerOptions)
RequestT = TypeVar("RequestT")


class Stream(str, Enum):
    """Which output of a replica to read."""

    STDOUT = "stdout"
    STDERR = "stderr"
    COMBINED = "combined"


@dataclass(frozen=True)
class OptionInfo:
    """One run option as ``runopts`` shows it."""

    name: str
    type: str
    default: Any
    required: bool
    help: str


@dataclass(frozen=True)
class ListedApp:
    """One app a scheduler knows about."""

    app_id: str
    state: AppState
    name: str = ""


def _type_name(annotation: Any) -> str:
    """A type as written in code: ``int``, ``list[str]``, ``int | None``, ``Literal['a']``."""
    # __name__ alone would print list[str] as "list" and Optional[int] as "Optional".
    if isinstance(annotation, type) and not get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


class Watcher:
    """Blocks until an app may have changed. This default polls with backoff.

    Schedulers with an event source (a socket, a watch API) override
    :meth:`Scheduler.watch` to return a watcher that wakes on events.
    """

    def __init__(self, first_delay: float = 0.02, max_delay: float = 1.0) -> None:
        self._delay = first_delay
        self._max = max_delay

    def wait(self, timeout: float) -> None:
        time.sleep(max(0.0, min(timeout, self._delay)))
        self._delay = min(self._delay * 2, self._max)


class Scheduler(abc.ABC, Generic[OptionsT]):
    """Runs AppDefs on one kind of engine.

    Subclasses set ``Options`` to their pydantic options model and implement
    ``_dryrun``, ``_schedule``, ``_describe``, ``_cancel``, ``_log_iter`` and
    ``_list``; they may override ``_cancel_with_grace`` (a per-cancel grace
    period) and ``_delete`` (cleaning up after an app).
    """

    Options: ClassVar[type[SchedulerOptions]] = SchedulerOptions
    # The file tracker's root in this scheduler's jobs instead of the default root
    # (``<state dir>/tracking`` here, which replicas elsewhere do not see); it may
    # name the job's env vars: ``${TORCHRUN_CORE_JOB_DIR}/tracking``. None: passed as is.
    job_tracker_root: ClassVar[str | None] = None

    def __init__(self, name: str, session: str) -> None:
        self.name = name
        self.session = session

    # -- options ------------------------------------------------------------
    @classmethod
    def run_opts(cls) -> list[OptionInfo]:
        """The options this scheduler takes, with types, defaults and help."""
        out = []
        for name, info in cls.Options.model_fields.items():
            type_name = _type_name(info.annotation)
            default = None if info.is_required() else info.get_default(call_default_factory=True)
            out.append(
                OptionInfo(name, type_name, default, info.is_required(), info.description or "")
            )
        return out

    def parse_options(self, cfg: Mapping[str, Any] | SchedulerOptions | None) -> OptionsT:
        """Validate ``cfg`` into this scheduler's options model.

        Raises:
            InvalidOptionError: naming the first bad option; its ``errors``
                lists every ``(option, message)``.
        """
        if isinstance(cfg, self.Options):
            return cfg  # type: ignore[return-value]
        try:
            return self.Options.model_validate(dict(cfg or {}))  # type: ignore[return-value]
        except ValidationError as err:
            errors = [
                (
                    ".".join(str(p) for p in e["loc"]) or "?",
                    "unknown option"
                    if e["type"] == "extra_forbidden"
                    else e["msg"].removeprefix("Value error, "),
                )
                for e in err.errors()
            ]
            option, msg = errors[0]
            raise InvalidOptionError(
                f"{self.name} option {option!r}: {msg}",
                hint=f"see the options with: torchrun-core runopts {self.name}",
                option=option,
                scheduler=self.name,
                errors=errors,
            ) from None

    # -- submission ---------------------------------------------------------
    def tracker_root(self, root: str, app: AppDef, options: OptionsT, default: bool) -> TrackerRoot:
        """Where the ``file`` tracker rooted at ``root`` on this machine writes in ``app``'s job.

        Called by the Runner at dry run, before :meth:`dryrun`. ``default``
        says that ``root`` is the default one (``<state dir>/tracking`` here),
        not a path the user chose. This default gives the default root's place
        to :attr:`job_tracker_root` when set, and otherwise keeps ``root``:
        right for replicas that share this machine's filesystem (local
        processes), and what every scheduler did before this hook, so that
        plugins written before it keep working. A scheduler whose replicas run
        elsewhere gives a root that exists there, or None (off) with a notice.
        """
        if default and self.job_tracker_root:
            return TrackerRoot(self.job_tracker_root)
        return TrackerRoot(root)

    def dryrun(
        self, app: AppDef, cfg: Mapping[str, Any] | SchedulerOptions | None = None
    ) -> AppDryRunInfo[Any]:
        """The native request that ``schedule`` would submit for ``app``."""
        options = self.parse_options(cfg)
        self._validate(app, options)
        return self._dryrun(app, options)

    def schedule(self, dryrun_info: AppDryRunInfo[Any]) -> str:
        """Submit exactly ``dryrun_info.request``; returns the app id."""
        if dryrun_info.scheduler != self.name:
            raise InvalidInputError(
                f"dry run made for scheduler {dryrun_info.scheduler!r}, not {self.name!r}"
            )
        return self._schedule(dryrun_info)

    def submit(self, app: AppDef, cfg: Mapping[str, Any] | SchedulerOptions | None = None) -> str:
        return self.schedule(self.dryrun(app, cfg))

    # -- observation --------------------------------------------------------
    def describe(self, app_id: str) -> AppStatus | None:
        """The app's status, or None when this scheduler does not know it."""
        return self._describe(app_id)

    def describe_many(self, app_ids: builtins.list[str]) -> dict[str, AppStatus | None]:
        """Statuses of several apps of this session, by app id (None: unknown).

        ``list`` refreshes a page of live runs through this, so a scheduler
        whose engine answers for many apps at once (one ``squeue``) should
        override :meth:`_describe_many`; the default asks :meth:`describe`
        once per app, so plugins written before it keep working.
        """
        return self._describe_many(builtins.list(dict.fromkeys(app_ids)))

    def _describe_many(self, app_ids: builtins.list[str]) -> dict[str, AppStatus | None]:
        return {app_id: self.describe(app_id) for app_id in app_ids}

    def exists(self, app_id: str) -> bool:
        return self._describe(app_id) is not None

    def watch(self, app_id: str) -> AbstractContextManager[Watcher]:
        """A context giving a :class:`Watcher` for ``app_id``; enter it before reading state."""
        return nullcontext(Watcher())

    def list(self) -> list[ListedApp]:
        """Apps of this scheduler's session that the engine still knows about."""
        return self._list()

    def log_iter(
        self,
        app_id: str,
        role_name: str,
        k: int = 0,
        regex: str | None = None,
        since: float | None = None,
        until: float | None = None,
        should_tail: bool = False,
        streams: Stream | None = None,
        attempt: int | None = None,
    ) -> Iterator[str]:
        """Whole lines (with their newline) of replica ``k`` of ``role_name``, in order.

        ``attempt`` picks one run of a retried replica (0 is the first); None
        reads every attempt in order. Raises at once (not on first ``next``)
        when the app is unknown.

        Raises:
            AppNotFoundError: the app id is unknown.
            InvalidInputError: the role, replica or regex is invalid.
        """
        if not self.exists(app_id):
            raise AppNotFoundError(f"no {self.name} app {app_id!r}", app_id=app_id)
        try:
            pattern = re.compile(regex) if regex else None
        except re.error as err:
            raise InvalidInputError(f"invalid --regex {regex!r}: {err}") from None
        lines = self._log_iter(
            app_id, role_name, k, since, until, should_tail, streams or Stream.COMBINED, attempt
        )
        return filter(pattern.search, lines) if pattern else lines

    # -- control ------------------------------------------------------------
    def cancel(self, app_id: str, grace_period: float | None = None) -> None:
        """Stop the app. Idempotent: cancelling a finished app does nothing.

        ``grace_period`` (seconds between the polite stop and the kill)
        overrides the app's own for this cancel, on schedulers that implement
        :meth:`_cancel_with_grace`; the others stop the app their usual way.

        Raises:
            AppNotFoundError: the app id is unknown.
        """
        status = self._describe(app_id)
        if status is None:
            raise AppNotFoundError(f"no {self.name} app {app_id!r}", app_id=app_id)
        if not status.state.is_terminal:
            if grace_period is None:
                self._cancel(app_id)
            else:
                self._cancel_with_grace(app_id, grace_period)

    def delete(self, app_id: str, grace_period: float | None = None) -> None:
        """Stop the app if it still runs, then remove what the engine keeps of it.

        What goes depends on the scheduler (see :meth:`_delete`): logs and
        state files, containers and networks... The run store is not touched.

        Raises:
            AppNotFoundError: the app id is unknown.
        """
        if grace_period is None:  # the one-argument call suits plugins that override cancel()
            self.cancel(app_id)
        else:
            self.cancel(app_id, grace_period)
        self._delete(app_id)

    def close(self) -> None:
        """Release connections and other resources; the default holds none."""

    # -- overridable control hooks --------------------------------------------
    def _cancel_with_grace(self, app_id: str, grace_period: float) -> None:
        """Stop a live app, waiting ``grace_period`` s between the polite stop and the kill.

        The default ignores the grace period and calls :meth:`_cancel`, so
        that plugins written before it keep working.
        """
        self._cancel(app_id)

    def _delete(self, app_id: str) -> None:
        """Remove what the engine keeps of an ended app (called after a cancel).

        The default removes nothing: for engines that keep nothing once an
        app ended, or whose cancel already removes everything.
        """

    # -- for subclasses -----------------------------------------------------
    def _dryrun_info(
        self,
        app: AppDef,
        request: RequestT,
        options: OptionsT,
        formatter: Callable[[RequestT], str],
        app_id: str | None = None,
    ) -> AppDryRunInfo[RequestT]:
        """Wrap this scheduler's native ``request`` for ``app`` as a dry run."""
        return AppDryRunInfo(
            request=request,
            app=app,
            scheduler=self.name,
            session=self.session,
            cfg=options,
            formatter=formatter,
            app_id=app_id,
        )

    def _request_of(self, dryrun_info: AppDryRunInfo[Any], kind: type[RequestT]) -> RequestT:
        """The dry run's request, checked to be this scheduler's ``kind`` of request.

        Raises:
            InvalidInputError: the dry run holds something else.
        """
        request = dryrun_info.request
        if not isinstance(request, kind):
            raise InvalidInputError(f"this dry run does not hold a {self.name} request")
        return request

    def _validate(self, app: AppDef, options: OptionsT) -> None:
        """Reject an app this scheduler cannot run (raise InvalidInputError)."""

    @abc.abstractmethod
    def _dryrun(self, app: AppDef, options: OptionsT) -> AppDryRunInfo[Any]: ...

    @abc.abstractmethod
    def _schedule(self, dryrun_info: AppDryRunInfo[Any]) -> str: ...

    @abc.abstractmethod
    def _describe(self, app_id: str) -> AppStatus | None: ...

    @abc.abstractmethod
    def _cancel(self, app_id: str) -> None: ...

    @abc.abstractmethod
    def _list(self) -> builtins.list[ListedApp]: ...

    @abc.abstractmethod
    def _log_iter(
        self,
        app_id: str,
        role_name: str,
        k: int,
        since: float | None,
        until: float | None,
        should_tail: bool,
        streams: Stream,
        attempt: int | None,
    ) -> Iterator[str]: ...
