"""Every error torchrun_core raises, rooted at :class:`TorchrunCoreError`.

The tree::

    TorchrunCoreError                 exit 1 unless a branch says otherwise
    ├── InvalidInputError             exit 2: the caller asked for something wrong
    │   ├── SpecError                 an AppDef/Role/Resource/mount failed validation
    │   ├── MalformedHandleError      a string is not ``scheduler://session/app_id``
    │   ├── InvalidOptionError        a scheduler option is unknown or has a bad value
    │   ├── UnknownSchedulerError     no plugin provides that scheduler
    │   ├── ComponentError            a component is missing, malformed or got bad args
    │   ├── ConfigError               a config file or config env var is malformed
    │   └── AppNotFoundError          no app has that handle
    ├── PluginError                   exit 2: the installed plugins contradict each other
    │   └── PluginConflictError       two plugins provide the same name
    ├── AppError                      exit 1: the app itself did not succeed
    │   ├── AppFailedError            the app ended FAILED
    │   ├── AppCancelledError         the app ended CANCELLED
    │   └── UnexpectedStateError      the app ended before reaching the awaited state
    ├── WaitTimeoutError              exit 1: ``wait`` ran out of time
    └── BackendError                  exit 1: the scheduler's engine failed or is unreachable
        └── SchedulerUnavailableError the engine cannot be reached at all

Each error carries its context (``handle``, ``scheduler``, ``option``...) as
attributes and an optional ``hint``; the CLI prints ``error: <message>`` and
``hint: <hint>`` and exits with ``exit_code``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any


class TorchrunCoreError(Exception):
    """Root of the hierarchy; ``str(err)`` is one line without the hint."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.context = context
        for key, value in context.items():
            setattr(self, key, value)

    def __str__(self) -> str:
        return self.message


class InvalidInputError(TorchrunCoreError):
    """The caller asked for something that cannot be done as stated."""

    exit_code = 2


class SpecError(InvalidInputError, ValueError):
    """An app spec failed validation; ``errors`` lists ``(field_path, message)``.

    Also a ValueError, as pydantic's ValidationError is: code that caught
    ValueError around a spec keeps working, and a spec built inside a pydantic
    validator fails that validator the usual way.
    """

    def __init__(
        self, message: str, *, errors: list[tuple[str, str]] | None = None, **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.errors = errors or []


class MalformedHandleError(InvalidInputError):
    """A string that should be an app handle is not one."""


class InvalidOptionError(InvalidInputError):
    """A scheduler run option is unknown or has a bad value."""


class UnknownSchedulerError(InvalidInputError):
    """No installed plugin provides the requested scheduler."""


class ComponentError(InvalidInputError):
    """A component could not be found, loaded or called with the given arguments."""


class ConfigError(InvalidInputError):
    """A config file or ``TORCHRUN_CORE_*`` setting is malformed (``path``/``line``/``key``)."""


class AppNotFoundError(InvalidInputError):
    """No app is known under the given handle."""

    @classmethod
    def for_handle(cls, handle: object, detail: str = "") -> AppNotFoundError:
        """The error for a handle that neither the run store nor its scheduler knows."""
        return cls(
            f"no app {handle}" + (f": {detail}" if detail else ""),
            hint="see the known apps with: torchrun-core list",
            handle=str(handle),
        )


class PluginError(TorchrunCoreError):
    """The set of installed plugins is inconsistent."""

    exit_code = 2


class PluginConflictError(PluginError):
    """Two plugins register the same name for the same kind of thing."""


class AppError(TorchrunCoreError):
    """The app ran but did not end the way the caller needed."""


class AppFailedError(AppError):
    """The app ended in FAILED."""


class AppCancelledError(AppError):
    """The app ended in CANCELLED."""


class UnexpectedStateError(AppError):
    """The app reached a terminal state before the state being waited for."""


class WaitTimeoutError(TorchrunCoreError):
    """``wait`` gave up before the app reached the awaited state."""


class BackendError(TorchrunCoreError):
    """The scheduler's engine refused or failed a request."""


class SchedulerUnavailableError(BackendError):
    """The scheduler's engine cannot be reached."""
