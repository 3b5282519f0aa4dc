"""The kubernetes workspace builder: ``run --workspace DIR`` on a cluster, from a registry.

The nodes pull every image from a registry, so a workspace on kubernetes
needs ``--cfg image_repo=HOST:PORT/PATH``. The image (``<role image> + DIR``,
named by its content: ``torchrun_core.schedulers.shared.workspace_image``) is
planned at the dry run without building anything; right before submitting it
is built on a docker daemon (``--cfg docker_host``, else ``DOCKER_HOST``),
pushed unless the registry already has its tag, and the roles run it by
digest (``REPO@sha256:…``), so a re-tag cannot change what the pods run.

Registry credentials: the push uses the docker config of this machine (read
by the docker SDK); the nodes pull with the Secrets named by
``--cfg image_pull_secrets``, which the user creates. No credential is ever
put in a manifest, printed or stored.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from torchrun_core.errors import InvalidInputError, SchedulerUnavailableError
from torchrun_core.schedulers.shared.docker_daemon import connect, daemon_address
from torchrun_core.schedulers.shared.workspace_app import plan_workspace_images, workspace_root
from torchrun_core.specs.app import AppDef
from torchrun_core.workspace_builder import WorkspacePlan

if TYPE_CHECKING:
    from docker import APIClient

    from torchrun_core.schedulers.kubernetes.options import KubernetesOptions
    from torchrun_core.schedulers.kubernetes.scheduler import KubernetesScheduler

# Whether the build daemon may pull a missing base image follows the pods' pull
# policy; unset, Kubernetes pulls when missing (for a tag other than :latest).
_BASE_PULL = {"Never": "never", "IfNotPresent": "if-not-present", "Always": "always"}


class KubernetesWorkspaceBuilder:
    """Plans a workspace image; at submit builds it on a docker daemon, pushes it to image_repo."""

    def __init__(self, scheduler: KubernetesScheduler) -> None:
        self.scheduler = scheduler

    def plan(
        self, app: AppDef, workspace: str, cfg: Mapping[str, Any] | None = None
    ) -> WorkspacePlan:
        """``app`` with each role's image planned as that image plus ``workspace``; builds nothing.

        The daemon is asked only for the base images' ids (which name the
        workspace image); nothing is built or pushed until ``realize``.

        Raises:
            InvalidInputError: no ``image_repo``, the workspace is not a
                directory, a role has no image, or a base image is missing.
            SchedulerUnavailableError: the docker daemon cannot be reached.
        """
        options = self.scheduler.parse_options(cfg)
        repo = require_image_repo(options)
        workspace_root(workspace)  # before contacting the daemon: a typo fails fast
        policy = _BASE_PULL.get(options.image_pull_policy or "", "if-not-present")
        client, address = _daemon(options.docker_host)
        return plan_workspace_images(client, address, app, workspace, repo, policy)

    def build(self, app: AppDef, workspace: str, cfg: Mapping[str, Any] | None = None) -> AppDef:
        """``app`` with each role's image replaced by that image plus ``workspace``, pushed now."""
        plan = self.plan(app, workspace, cfg)
        return plan.realize(plan.app)


def _daemon(host: str | None) -> tuple[APIClient, str]:
    """A client of the daemon that builds and pushes, and its address.

    Raises:
        SchedulerUnavailableError: the docker SDK is missing or the daemon does not answer.
    """
    address = daemon_address(host)
    if importlib.util.find_spec("docker") is None:
        raise SchedulerUnavailableError(
            "kubernetes --workspace builds images with the docker SDK, which is not installed",
            hint="pip install 'torchrun-core[docker]'",
            scheduler="kubernetes",
        )
    try:
        return connect(host), address
    except SchedulerUnavailableError as err:
        # connect's hint names the docker scheduler's option (host): name ours.
        raise SchedulerUnavailableError(
            f"kubernetes --workspace: {err.message}",
            hint="start it, or point DOCKER_HOST (or --cfg docker_host=...) at a docker "
            "daemon that can build and push",
            scheduler="kubernetes",
        ) from None


def require_image_repo(options: KubernetesOptions) -> str:
    """The registry repository workspace images go to.

    Raises:
        InvalidInputError: none is set (the nodes could not pull the image).
    """
    if not options.image_repo:
        raise InvalidInputError(
            "a workspace on kubernetes needs image_repo: the nodes pull the image from a registry",
            hint="--cfg image_repo=HOST:PORT/PATH (a registry the nodes can pull from)",
            scheduler="kubernetes",
            option="image_repo",
        )
    return options.image_repo
