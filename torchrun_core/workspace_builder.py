"""The workspace builder contract: a local directory into what a scheduler runs.

``run --workspace DIR`` asks the scheduler's builder (registered with the
``torchrun_core_workspace_builders`` hook, keyed by scheduler name) to turn the
directory into the roles' image (docker) or a job dir synced at submit
(slurm). A builder is made per use from the scheduler it serves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from torchrun_core.specs.app import AppDef


@runtime_checkable
class WorkspaceBuilder(Protocol):
    """Turns a workspace directory into the app that runs it."""

    def build(self, app: AppDef, workspace: str, cfg: Mapping[str, Any] | None = None) -> AppDef:
        """``app`` changed to run ``workspace`` (a local directory) with options ``cfg``.

        Raises:
            InvalidInputError: the workspace or an option is wrong.
            Anything else: a failure of the engine (the Runner reports it as a BackendError).
        """
        ...


#: What the hook maps a scheduler name to: called with the scheduler instance
#: (its own class, so that the builder can use its options and client).
WorkspaceBuilderFactory = Callable[[Any], WorkspaceBuilder]

__all__ = ["WorkspaceBuilder", "WorkspaceBuilderFactory"]
