"""The ``kubernetes`` scheduler plugin: plain batch/v1 Jobs, no Volcano, no CRDs by default.

Loaded during plugin discovery, so it imports nothing heavy: the scheduler is
named lazily as a ``"module:attr"`` string and the ``kubernetes`` SDK is
imported only when a cluster is first contacted (never for a dry run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torchrun_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from torchrun_core.schedulers.kubernetes_options import KubernetesOptions
    from torchrun_core.schedulers.kubernetes_scheduler import KubernetesScheduler

__all__ = ["KubernetesOptions", "KubernetesScheduler", "torchrun_core_schedulers"]

_LAZY = {
    "KubernetesScheduler": "kubernetes_scheduler",
    "KubernetesOptions": "kubernetes_options",
}


@hookimpl
def torchrun_core_schedulers() -> dict[str, str]:
    """The ``kubernetes`` scheduler, named lazily: ``factory(session, **params)``."""
    return {"kubernetes": "torchrun_core.schedulers.kubernetes_scheduler:KubernetesScheduler"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f"torchrun_core.schedulers.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
