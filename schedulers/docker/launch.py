"""Start a docker app from its plan, and remove everything it made.

``launch`` checks the images (per the pull policy), makes the app's network,
creates every container, then starts them; when any step fails, whatever was
made is removed again before the error is raised, so a failed submission
leaves nothing behind. ``remove_app`` stops (SIGTERM, SIGKILL after the
grace period) and removes every container and network labelled with the app.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from torchrun_core.errors import TorchrunCoreError
from torchrun_core.schedulers.docker.plan import LABEL_APP, LABEL_SESSION, ContainerSpec, DockerPlan
from torchrun_core.schedulers.shared.docker_daemon import translate, translated
from torchrun_core.schedulers.shared.docker_images import ensure_image

if TYPE_CHECKING:
    from docker import APIClient

_T = TypeVar("_T")
_R = TypeVar("_R")
# Enough to overlap the daemon's work on several containers; its API is the limit.
_MAX_THREADS = 8


def app_filters(app_id: str, session: str) -> dict[str, Any]:
    """Engine API filters selecting one app's containers or networks."""
    return {"label": [f"{LABEL_APP}={app_id}", f"{LABEL_SESSION}={session}"]}


def each(fn: Callable[[_T], _R], items: Iterable[_T]) -> list[_R]:
    """``fn`` over ``items`` on a few threads, results in order; the first error is raised."""
    todo = list(items)
    if len(todo) <= 1:
        return [fn(item) for item in todo]
    with ThreadPoolExecutor(min(_MAX_THREADS, len(todo))) as pool:
        return list(pool.map(fn, todo))


def launch(client: APIClient, address: str, plan: DockerPlan) -> None:
    """Create and start every container of ``plan``; on failure, remove what was made.

    Raises:
        InvalidInputError: a missing image, a bad mount or another refused request.
        BackendError, SchedulerUnavailableError: the daemon failed or is unreachable.
    """
    ensure_images(client, address, plan)
    try:
        if plan.create_network:
            with translated(address, f"create network {plan.network}"):
                client.create_network(
                    plan.network,
                    driver="bridge",
                    labels={LABEL_APP: plan.app_id, LABEL_SESSION: plan.session},
                )
        ids = each(lambda spec: create(client, address, spec), plan.containers)
        each(lambda pair: start(client, address, *pair), zip(ids, plan.containers, strict=True))
    except BaseException:
        with contextlib.suppress(TorchrunCoreError):  # the original error says more
            remove_app(client, address, plan.app_id, plan.session, grace_period=0)
        raise


def create(client: APIClient, address: str, spec: ContainerSpec) -> str:
    """Create one container; returns its id."""
    with translated(address, f"create container {spec.name}"):
        made = client.create_container_from_config(spec.body, name=spec.name)  # type: ignore[no-untyped-call]
    return str(made["Id"])


def start(client: APIClient, address: str, container_id: str, spec: ContainerSpec) -> None:
    with translated(address, f"start container {spec.name}"):
        client.start(container_id)


def ensure_images(client: APIClient, address: str, plan: DockerPlan) -> None:
    """Make sure each image of ``plan`` is on the daemon, pulling as its policy allows."""
    for image in plan.images:
        ensure_image(client, address, image, plan.image_pull_policy)


def remove_app(
    client: APIClient, address: str, app_id: str, session: str, grace_period: int
) -> int:
    """Stop, then remove, every container and network of the app; returns how many containers.

    Raises:
        BackendError, SchedulerUnavailableError: the daemon failed or is unreachable.
    """
    filters = app_filters(app_id, session)
    with translated(address, f"list containers of {app_id}"):
        containers: list[dict[str, Any]] = client.containers(all=True, filters=filters)
    live = [c["Id"] for c in containers if c.get("State") in ("running", "restarting", "paused")]
    # docker stop: SIGTERM, then SIGKILL after the grace period; all at once.
    each(lambda cid: _quietly(client, address, "stop", cid, grace_period), live)
    each(lambda c: _quietly(client, address, "remove", c["Id"], 0), containers)
    remove_networks(client, address, app_id, session)
    return len(containers)


def remove_networks(client: APIClient, address: str, app_id: str, session: str) -> int:
    """Remove the app's networks (once its containers are gone); returns how many there were.

    A launch cut short (``kill -9``) may leave a network without containers.
    """
    with translated(address, f"list networks of {app_id}"):
        networks: list[dict[str, Any]] = client.networks(filters=app_filters(app_id, session))
    for network in networks:
        _quietly(client, address, "remove network", network["Id"], 0)
    return len(networks)


def _quietly(client: APIClient, address: str, what: str, ident: str, grace: int) -> None:
    """One stop/remove call; a thing already gone (404) or going (409) is fine."""
    from docker.errors import APIError

    try:
        if what == "stop":
            client.stop(ident, timeout=grace)
        elif what == "remove":
            client.remove_container(ident, v=True, force=True)
        else:
            client.remove_network(ident)
    except APIError as err:
        if err.status_code not in (404, 409):
            raise translate(err, address, f"{what} {ident[:12]}") from None
    except Exception as err:
        raise translate(err, address, f"{what} {ident[:12]}") from None
