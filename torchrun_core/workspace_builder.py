"""The workspace builder contract: a local directory into what a scheduler runs.

``run --workspace DIR`` asks the scheduler's builder (registered with the
``torchrun_core_workspace_builders`` hook, keyed by scheduler name) to turn the
directory into the roles' image (docker, kubernetes) or a job dir synced at
submit (slurm). A builder is made per use from the scheduler it serves.

A builder whose work is costly (building and pushing an image) also offers
``plan``: the dry run then only plans (:class:`WorkspacePlan`: the app as it
would run, and what would be built), and ``schedule`` does the work with
``WorkspacePlan.realize`` right before submitting. A builder with ``build``
alone is called at the dry run, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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


#: AppDef metadata a builder that replaces role images sets: JSON ``{role: image before}``,
#: so that ``rerun --workspace`` adds the new workspace to the original images.
BASES_METADATA = "torchrun_core.workspace_bases"


@dataclass
class WorkspacePlan:
    """What a dry run knows of a workspace: the app to show, and how to make it real.

    ``app`` names what will run (an image's tag, its digest not known yet);
    ``notes`` say, one line each, what would be built and pushed;
    ``realize(app)`` builds and pushes, then returns ``app`` (the dry run's
    app, tracker env and all) with each planned image replaced by what runs.
    """

    app: AppDef
    realize: Callable[[AppDef], AppDef]
    notes: list[str] = field(default_factory=list)


@runtime_checkable
class PlanningWorkspaceBuilder(WorkspaceBuilder, Protocol):
    """A builder whose dry run builds nothing: ``plan`` now, ``WorkspacePlan.realize`` at submit."""

    def plan(
        self, app: AppDef, workspace: str, cfg: Mapping[str, Any] | None = None
    ) -> WorkspacePlan:
        """Decide what ``workspace`` becomes for ``app``, building and pushing nothing.

        Raises:
            InvalidInputError: the workspace, a role's image or an option is wrong.
        """
        ...


#: What the hook maps a scheduler name to: called with the scheduler instance
#: (its own class, so that the builder can use its options and client).
WorkspaceBuilderFactory = Callable[[Any], WorkspaceBuilder]

__all__ = [
    "BASES_METADATA",
    "PlanningWorkspaceBuilder",
    "WorkspaceBuilder",
    "WorkspaceBuilderFactory",
    "WorkspacePlan",
]
