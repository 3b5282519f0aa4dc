"""Images on a docker daemon: make sure one is there, pulling as a pull policy allows.

Shared by the docker scheduler (the roles' images) and the workspace image
builders (the base image a workspace is added to).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torchrun_core.errors import BackendError, InvalidInputError
from torchrun_core.schedulers.shared.docker_daemon import translated

if TYPE_CHECKING:
    from docker import APIClient


def ensure_image(client: APIClient, address: str, image: str, policy: str) -> None:
    """Make sure ``image`` is on the daemon: pull it when missing or ``policy`` is ``always``.

    Raises:
        InvalidInputError: the image is missing with policy ``never``, or cannot be pulled.
    """
    present = _image_present(client, address, image)
    if present and policy != "always":
        return
    if not present and policy == "never":
        raise InvalidInputError(
            f"image {image!r} is not on the docker daemon at {address}",
            hint="build or load it there, or let it be pulled: "
            "--cfg image_pull_policy=if-not-present",
            scheduler="docker",
        )
    failure = _pull(client, address, image)
    if failure is None:
        return
    if present:
        raise BackendError(
            f"docker daemon at {address}: pulling image {image!r} failed: {failure}",
            hint="use the local image: --cfg image_pull_policy=if-not-present",
            scheduler="docker",
        )
    raise InvalidInputError(
        f"image {image!r} is not on the docker daemon at {address}, "
        f"and pulling it failed: {failure}",
        hint="check the image name, or build or load it on that daemon",
        scheduler="docker",
    )


def _image_present(client: APIClient, address: str, image: str) -> bool:
    from docker.errors import NotFound

    with translated(address, f"inspect image {image}"):
        try:
            client.inspect_image(image)  # type: ignore[no-untyped-call]
        except NotFound:  # ImageNotFound is a NotFound
            return False
    return True


def _pull(client: APIClient, address: str, image: str) -> str | None:
    """Pull ``image``; returns why it failed, None when it worked."""
    from docker.errors import APIError

    with translated(address, f"pull image {image}"):
        try:
            for event in client.pull(image, stream=True, decode=True):
                if isinstance(event, dict) and event.get("error"):
                    return str(event["error"]).strip()
        except APIError as err:
            return str(err.explanation or err).strip()
    return None
