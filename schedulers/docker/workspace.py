"""The docker workspace builder: ``run --workspace DIR`` runs DIR's files in the image.

For each distinct image of the app it plans ``<image> + DIR`` (see
``torchrun_core.schedulers.shared.workspace_image``): the dry run names the
image by a hash of its content and builds nothing; at submit it is built on
the scheduler's daemon unless there already, and with ``--cfg image_repo=REPO``
pushed (unless the registry has it) and run by digest (``REPO@sha256:…``).
The planning itself is shared with the kubernetes builder
(``torchrun_core.schedulers.shared.workspace_app``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from torchrun_core.schedulers.shared.workspace_app import (
    plan_workspace_images,
    replace_images,
    workspace_root,
)
from torchrun_core.schedulers.shared.workspace_image import LABEL_WORKSPACE, LOCAL_REPO, WORKDIR
from torchrun_core.specs.app import AppDef
from torchrun_core.workspace_builder import BASES_METADATA, WorkspacePlan

if TYPE_CHECKING:
    from torchrun_core.schedulers.docker.scheduler import DockerScheduler

# Re-exported: their home was this module.
__all__ = [
    "BASES_METADATA",
    "LABEL_WORKSPACE",
    "LOCAL_REPO",
    "WORKDIR",
    "DockerWorkspaceBuilder",
    "replace_images",
    "workspace_root",
]


class DockerWorkspaceBuilder:
    """Plans and builds a workspace into an image on the scheduler's daemon."""

    def __init__(self, scheduler: DockerScheduler) -> None:
        self.scheduler = scheduler

    def plan(
        self, app: AppDef, workspace: str, cfg: Mapping[str, Any] | None = None
    ) -> WorkspacePlan:
        """``app`` with each role's image planned as that image plus ``workspace``; builds nothing.

        Raises:
            InvalidInputError: the workspace is not a directory, a role has no
                image, or a base image is missing.
        """
        options = self.scheduler.parse_options(cfg)
        workspace_root(workspace)  # before contacting the daemon: a typo fails fast
        client, address = self.scheduler.client(options.host)
        return plan_workspace_images(
            client, address, app, workspace, options.image_repo, options.image_pull_policy
        )

    def build(self, app: AppDef, workspace: str, cfg: Mapping[str, Any] | None = None) -> AppDef:
        """``app`` with each role's image replaced by that image plus ``workspace``, built now."""
        plan = self.plan(app, workspace, cfg)
        return plan.realize(plan.app)
