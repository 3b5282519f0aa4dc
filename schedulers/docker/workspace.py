"""The docker workspace builder: ``run --workspace DIR`` runs DIR's files in the image.

For each distinct image of the app it plans ``<image> + DIR`` (see
``torchrun_core.schedulers.shared.workspace_image``): the dry run names the
image by a hash of its content and builds nothing; at submit it is built on
the scheduler's daemon unless there already, and with ``--cfg image_repo=REPO``
pushed (unless the registry has it) and run by digest (``REPO@sha256:…``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchrun_core.errors import InvalidInputError
from torchrun_core.schedulers.shared.docker_images import ensure_image
from torchrun_core.schedulers.shared.workspace_image import (
    LABEL_WORKSPACE,
    LOCAL_REPO,
    WORKDIR,
    ImagePlan,
    plan_image,
    realize_image,
)
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
        root = workspace_root(workspace)
        client, address = self.scheduler.client(options.host)
        plans: dict[str, ImagePlan] = {}
        for role in app.roles:
            if not role.image:
                raise InvalidInputError(
                    f"role {role.name!r} has no image to add the workspace to",
                    hint="set the role's image (components take --image)",
                )
            if role.image not in plans:
                ensure_image(client, address, role.image, options.image_pull_policy)
                plans[role.image] = plan_image(
                    client, address, root, role.image, options.image_repo
                )

        def realize(planned: AppDef) -> AppDef:
            built = {p.tag: realize_image(client, address, p) for p in plans.values()}
            return replace_images(planned, built)

        bases = {r.name: r.image for r in app.roles}
        planned = replace_images(app, {base: p.tag for base, p in plans.items()}, bases)
        return WorkspacePlan(planned, realize, [p.describe() for p in plans.values()])

    def build(self, app: AppDef, workspace: str, cfg: Mapping[str, Any] | None = None) -> AppDef:
        """``app`` with each role's image replaced by that image plus ``workspace``, built now."""
        plan = self.plan(app, workspace, cfg)
        return plan.realize(plan.app)


def workspace_root(workspace: str) -> Path:
    """``workspace`` as an absolute directory.

    Raises:
        InvalidInputError: it is not a directory.
    """
    root = Path(workspace).expanduser()
    if not root.is_dir():
        raise InvalidInputError(
            f"workspace {workspace!r} is not a directory",
            hint="give --workspace the directory to copy into the image",
        )
    return root.resolve()


def replace_images(
    app: AppDef, images: Mapping[str, str], bases: Mapping[str, str] | None = None
) -> AppDef:
    """``app`` with role images renamed by ``images``; ``bases`` recorded in its metadata."""
    roles = [r.model_dump() | {"image": images.get(r.image, r.image)} for r in app.roles]
    metadata = dict(app.metadata)
    if bases is not None:
        metadata[BASES_METADATA] = json.dumps(bases, sort_keys=True)
    data = {**app.model_dump(), "roles": roles, "metadata": metadata}
    return AppDef.parse(data, source=f"app {app.name!r}")
