"""The builtin trackers, registered like a third-party plugin (entry point ``builtin_trackers``).

Each is named lazily as ``"module:factory"``, so discovering them imports
neither the file backend nor MLflow.
"""

from __future__ import annotations

from torchrun_core.hookspecs import hookimpl

_BUILTINS = {
    "file": "torchrun_core.tracking.file_backend:FileBackend",
    "mlflow": "torchrun_core.tracking.mlflow_backend:MlflowBackend",
}


@hookimpl
def torchrun_core_trackers() -> dict[str, str]:
    return dict(_BUILTINS)
