"""How AppRun finds the configured tracker backends (their interface: ``protocol``).

A tracker plugin provides, through the ``torchrun_core_trackers`` hook, a
factory ``factory(config: str | None) -> TrackerBackend`` per name. The
:class:`~torchrun_core.tracking.app_run.AppRun` of a job calls
:meth:`TrackerBackend.start` once, then the ``log_*`` methods; values are
already validated (``value`` is a float, ``step`` an int or None). A backend
that raises is dropped with a warning: tracking never breaks the job.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

# Re-exported: their home was this module.
from torchrun_core.tracking.protocol import TrackerBackend, TrackingWarning

TRACKERS_ENV = "TORCHRUN_CORE_TRACKERS"


def warn(message: str) -> None:
    """A :class:`TrackingWarning` pointing at the job's own call, not at this package."""
    warnings.warn(message, TrackingWarning, stacklevel=4)


def tracker_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """The trackers the Runner injected into the job (``TORCHRUN_CORE_TRACKERS``)."""
    env = os.environ if environ is None else environ
    return [n.strip() for n in env.get(TRACKERS_ENV, "").split(",") if n.strip()]


def load_backends(
    names: list[str], environ: Mapping[str, str], registry: Any = None
) -> list[tuple[str, TrackerBackend]]:
    """The backends of ``names`` made from their ``TORCHRUN_CORE_TRACKER_<NAME>_CONFIG``.

    A tracker no plugin provides, or whose factory fails, is left out with a
    warning.
    """
    from torchrun_core.tracking.env import tracker_config_env

    if registry is None:
        from torchrun_core.registry import get_registry

        registry = get_registry()
    out: list[tuple[str, TrackerBackend]] = []
    for name in names:
        try:
            provider = registry.get("trackers", name)
            if provider is None:
                known = ", ".join(registry.names("trackers")) or "none"
                warn(f"tracker {name!r} is not installed (installed: {known}); not reporting to it")
                continue
            backend = provider.load()(environ.get(tracker_config_env(name)) or None)
        except Exception as err:  # a broken tracker plugin must not break the job
            warn(f"tracker {name!r} cannot be used: {type(err).__name__}: {err}")
            continue
        out.append((name, backend))
    return out


__all__ = ["TrackerBackend", "TrackingWarning", "load_backends", "tracker_names", "warn"]
