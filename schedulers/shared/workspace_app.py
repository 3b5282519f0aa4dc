"""A workspace planned into an app's images: what the docker and kubernetes builders share.

:func:`plan_workspace_images` plans ``<role image> + DIR`` once per distinct
role image (:mod:`torchrun_core.schedulers.shared.workspace_image`), building
nothing, and returns the :class:`~torchrun_core.workspace_builder.WorkspacePlan`
whose ``realize`` builds and pushes on the given daemon and swaps each planned
tag for what runs (``repo@sha256:…`` when pushed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from torchrun_core.errors import InvalidInputError
from torchrun_core.schedulers.shared.docker_images import ensure_image
from torchrun_core.schedulers.shared.workspace_image import ImagePlan, plan_image, realize_image
from torchrun_core.specs.app import AppDef
from torchrun_core.workspace_builder import BASES_METADATA, WorkspacePlan

if TYPE_CHECKING:
    from docker import APIClient


def plan_workspace_images(
    client: APIClient,
    address: str,
    app: AppDef,
    workspace: str,
    image_repo: str | None,
    pull_policy: str,
) -> WorkspacePlan:
    """``app`` with each role's image planned as that image plus ``workspace``; builds nothing.

    ``pull_policy`` (docker's: never, if-not-present, always) says whether a
    base image missing on the daemon may be pulled; its id names the image.

    Raises:
        InvalidInputError: the workspace is not a directory, a role has no
            image, or a base image is missing.
    """
    root = workspace_root(workspace)
    plans: dict[str, ImagePlan] = {}
    for role in app.roles:
        if not role.image:
            raise InvalidInputError(
                f"role {role.name!r} has no image to add the workspace to",
                hint="set the role's image (components take --image)",
            )
        if role.image not in plans:
            ensure_image(client, address, role.image, pull_policy)
            plans[role.image] = plan_image(client, address, root, role.image, image_repo)

    def realize(planned: AppDef) -> AppDef:
        built = {p.tag: realize_image(client, address, p) for p in plans.values()}
        return replace_images(planned, built)

    bases = {r.name: r.image for r in app.roles}
    planned = replace_images(app, {base: p.tag for base, p in plans.items()}, bases)
    return WorkspacePlan(planned, realize, [p.describe() for p in plans.values()])


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
