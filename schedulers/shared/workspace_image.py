"""Workspace images: a directory on top of a role's image, named by content, pushed, run by digest.

:func:`plan_image` decides everything without building: the image's name is
a hash of the base image's id, the Dockerfile and every file of DIR, so an
unchanged DIR names the same image. :func:`realize_image` then builds it
(unless the daemon has it) and, with an ``image_repo``, pushes it (unless
the registry has that tag) and returns ``repo@sha256:…``, the digest the
roles run by, so that re-tagging cannot change what runs.

A ``Dockerfile`` in DIR is honoured: it is built with DIR as the context and
the role's image as the build argument ``BASE_IMAGE``. Without one, the image
is ``FROM <role image>`` with DIR copied to ``/workspace``, one layer, so a
changed file rebuilds and pushes that layer only. Registry credentials come
from the docker config (``~/.docker/config.json``, credential helpers), read
by the SDK; they are never printed, stored or passed on.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchrun_core.errors import BackendError, InvalidInputError
from torchrun_core.schedulers.shared.docker_daemon import translated
from torchrun_core.schedulers.shared.image_progress import BuildFailure, ImageProgress
from torchrun_core.schedulers.shared.workspace_files import tar_summary, workspace_tar

if TYPE_CHECKING:
    from docker import APIClient

WORKDIR = "/workspace"
LOCAL_REPO = "torchrun-core-workspace"
LABEL_WORKSPACE = "torchrun_core.workspace"  # stored on images since the first release: keep
DOCKERFILE = "Dockerfile"
# How a registry (through the daemon) says the credentials are missing or wrong.
_REFUSED = ("unauthorized", "authentication required", "no basic auth", "denied")
_GENERATED = "FROM {base}\nCOPY workspace/ {workdir}/\nWORKDIR {workdir}\n"


@dataclass(frozen=True)
class ImagePlan:
    """What :func:`realize_image` will build and push, decided without building."""

    root: Path
    base: str
    tag: str  # repo:tag the image is built as
    repo: str | None  # where it is pushed; None: it stays on the daemon
    user_dockerfile: bool
    context: bytes  # the build context, a tar
    files: int
    size: int

    def describe(self) -> str:
        """One line for the dry run: what would be built and pushed."""
        source = (
            f"{self.root}/{DOCKERFILE}" if self.user_dockerfile else f"{self.base} + {self.root}"
        )
        push = f", pushed to {self.repo}, run by digest" if self.repo else ""
        return (
            f"workspace image {self.tag}: from {source} ({self.files} files, "
            f"{_kib(self.size)}){push}; built only if missing"
        )


def plan_image(
    client: APIClient, address: str, root: Path, base: str, image_repo: str | None
) -> ImagePlan:
    """The image of ``base`` + ``root``; needs ``base`` on the daemon (for its id), builds nothing.

    Raises:
        InvalidInputError: a file of the workspace cannot be read.
    """
    user_dockerfile = (root / DOCKERFILE).is_file()
    if user_dockerfile:
        files = workspace_tar(root, prefix="", always=(DOCKERFILE, ".dockerignore"))
        context, recipe = files, b"user Dockerfile"
    else:
        files = workspace_tar(root)
        dockerfile = _GENERATED.format(base=base, workdir=WORKDIR)
        context, recipe = _with_dockerfile(dockerfile, files), dockerfile.encode()
    with translated(address, f"inspect image {base}"):
        base_id = str(client.inspect_image(base)["Id"])  # type: ignore[no-untyped-call]
    digest = hashlib.sha256()
    for part in (base_id.encode(), base.encode(), recipe, files):
        digest.update(len(part).to_bytes(8, "big") + part)
    name = digest.hexdigest()[:20]
    tag = f"{image_repo}:ws-{name}" if image_repo else f"{LOCAL_REPO}:{name}"
    count, size = tar_summary(files)
    return ImagePlan(root, base, tag, image_repo, user_dockerfile, context, count, size)


def realize_image(client: APIClient, address: str, plan: ImagePlan) -> str:
    """Build (and push) the planned image unless done before; returns the reference to run.

    Raises:
        InvalidInputError: the Dockerfile failed (its step and last output
            lines), or the registry refused the credentials.
        BackendError: the daemon or the registry failed or cannot be reached.
    """
    if plan.repo:
        pushed = registry_digest(client, address, plan.tag)
        if pushed is not None:  # this exact content is in the registry: no build, no push
            return f"{plan.repo}@{pushed}"
    if not _present(client, address, plan.tag):
        _build(client, address, plan)
    if not plan.repo:
        return plan.tag
    return f"{plan.repo}@{push_image(client, address, plan)}"


def registry_digest(client: APIClient, address: str, ref: str) -> str | None:
    """The digest the registry holds for ``ref`` (``repo:tag``); None when it has no such tag.

    Raises:
        InvalidInputError: the registry refused the credentials.
        BackendError: the registry cannot be reached.
    """
    from docker.errors import APIError, NotFound

    try:
        with translated(address, f"look up {ref} in its registry"):
            try:
                found = client.inspect_distribution(ref)  # type: ignore[no-untyped-call]
            except NotFound:
                return None
            except APIError as err:
                if _says_unknown(str(err.explanation or err)):
                    return None
                raise
    except (InvalidInputError, BackendError) as err:
        raise _registry_error(ref, str(err)) from None
    return str(found["Descriptor"]["digest"])


def push_image(client: APIClient, address: str, plan: ImagePlan) -> str:
    """Push the built ``plan.tag``; returns the manifest digest the registry gave it."""
    repo, _, tag = plan.tag.rpartition(":")
    progress = ImageProgress(f"push {plan.tag}")
    digest = None
    with translated(address, f"push {plan.tag}"), progress:
        for event in client.push(repo, tag=tag, stream=True, decode=True):
            if not isinstance(event, dict):
                continue
            if event.get("error"):
                raise _registry_error(plan.tag, str(event["error"]))
            progress.push_event(event)
            digest = (event.get("aux") or {}).get("Digest") or digest
    if not digest:
        raise BackendError(f"pushing {plan.tag} gave no digest", scheduler="docker")
    return str(digest)


def _build(client: APIClient, address: str, plan: ImagePlan) -> None:
    dockerfile = plan.root / DOCKERFILE
    progress = ImageProgress(f"build {plan.tag}")
    with translated(address, f"build the workspace image from {plan.base}"), progress:
        events = client.build(
            fileobj=io.BytesIO(plan.context), custom_context=True, tag=plan.tag, rm=True,
            forcerm=True, decode=True, labels=_labels(plan),
            buildargs={"BASE_IMAGE": plan.base} if plan.user_dockerfile else None,
        )  # fmt: skip
        try:
            progress.follow_build(events)
        except BuildFailure as failure:
            where = dockerfile if plan.user_dockerfile else f"the workspace image of {plan.base}"
            raise InvalidInputError(
                f"building {where} failed at {failure.step or 'the start'}: {failure.error}"
                + (
                    f" (last output: {' | '.join(failure.last_lines)})"
                    if failure.last_lines
                    else ""
                ),
                hint=f"fix {dockerfile}" if plan.user_dockerfile else "check the role's image",
            ) from None


def _present(client: APIClient, address: str, tag: str) -> bool:
    from docker.errors import NotFound

    with translated(address, f"inspect image {tag}"):
        try:
            client.inspect_image(tag)  # type: ignore[no-untyped-call]
            return True
        except NotFound:
            return False


def _registry_error(ref: str, detail: str) -> InvalidInputError | BackendError:
    """One line naming the registry: refused credentials are bad input, the rest a backend's."""
    registry = ref.split("/", 1)[0]
    text = detail.lower()
    if any(word in text for word in _REFUSED):
        return InvalidInputError(
            f"registry {registry} refused the credentials for {ref}",
            hint=f"log in with: docker login {registry} (credentials come from the docker config)",
        )
    return BackendError(
        f"registry {registry} cannot be used for {ref}: {detail.strip()[:300]}",
        hint="check that the registry is up and that image_repo names it",
        scheduler="docker",
    )


def _labels(plan: ImagePlan) -> dict[str, str]:
    # Where the image came from helps on this daemon; a pushed image would carry
    # this machine's path (a user name) to the registry, so it gets none.
    return {} if plan.repo else {LABEL_WORKSPACE: str(plan.root)}


def _says_unknown(text: str) -> bool:
    text = text.lower()
    return "manifest unknown" in text or "not found" in text or "name unknown" in text


def _with_dockerfile(dockerfile: str, files: bytes) -> bytes:
    """The build context: the generated Dockerfile, then the workspace tar's entries."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo(DOCKERFILE)
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
        with tarfile.open(fileobj=io.BytesIO(files), mode="r") as src:
            for member in src.getmembers():
                source = src.extractfile(member) if member.isfile() else None
                tar.addfile(member, source)
    return out.getvalue()


def _kib(size: int) -> str:
    return f"{size / 1024:.1f} KiB" if size < 1 << 20 else f"{size / (1 << 20):.1f} MiB"


def as_dict(plan: ImagePlan) -> dict[str, Any]:
    """The plan's facts for a record or a benchmark (no file contents)."""
    return {"tag": plan.tag, "base": plan.base, "repo": plan.repo, "files": plan.files,
            "bytes": plan.size, "dockerfile": plan.user_dockerfile}  # fmt: skip
