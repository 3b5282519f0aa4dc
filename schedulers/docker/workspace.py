"""The docker workspace builder: ``run --workspace DIR`` runs DIR's files in the image.

For each distinct image of the app it builds ``FROM <image>`` with DIR copied
to ``/workspace``, made the working dir. The build context is a tar made in
memory (no temporary files) and sent through the SDK. The image is tagged
``torchrun-core-workspace:<hash>``, the hash covering the base image's id and
every file's path, mode and content, so an unchanged workspace is never built
twice. ``.dockerignore`` in DIR keeps files out (see
``torchrun_core.schedulers.shared.dockerignore``).

Archive entries are relative paths inside DIR, never ``..`` or absolute;
symlinks are stored as links (their targets are not read), and sockets,
pipes and devices are skipped.

Contract of a workspace builder (the ``torchrun_core_workspace_builders``
hook): ``factory(scheduler)`` returns an object whose
``build(app, workspace, cfg) -> AppDef`` returns the app to run instead.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import sys
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchrun_core.errors import BackendError, InvalidInputError
from torchrun_core.schedulers.docker.client import translated
from torchrun_core.schedulers.docker.launch import ensure_image
from torchrun_core.schedulers.shared.dockerignore import can_prune, is_ignored, read_rules
from torchrun_core.specs.app import AppDef

if TYPE_CHECKING:
    from docker import APIClient

    from torchrun_core.schedulers.docker.scheduler import DockerScheduler

WORKDIR = "/workspace"
IMAGE_REPO = "torchrun-core-workspace"
LABEL_WORKSPACE = "torchrun_core.workspace"
_DOCKERFILE = "FROM {base}\nCOPY workspace/ {workdir}/\nWORKDIR {workdir}\n"


class DockerWorkspaceBuilder:
    """Builds a workspace into an image on the scheduler's daemon."""

    def __init__(self, scheduler: DockerScheduler) -> None:
        self.scheduler = scheduler

    def build(self, app: AppDef, workspace: str, cfg: Mapping[str, Any] | None = None) -> AppDef:
        """``app`` with each role's image replaced by that image plus ``workspace``.

        Raises:
            InvalidInputError: the workspace is not a directory, a role has no
                image, or a base image is missing.
            BackendError: the build failed (its error line is in the message).
        """
        options = self.scheduler.parse_options(cfg)
        root = Path(workspace).expanduser()
        if not root.is_dir():
            raise InvalidInputError(
                f"workspace {workspace!r} is not a directory",
                hint="give --workspace the directory to copy into the image",
            )
        root = root.resolve()
        files = workspace_tar(root)
        client, address = self.scheduler.client(options.host)
        built: dict[str, str] = {}
        for role in app.roles:
            if not role.image:
                raise InvalidInputError(
                    f"role {role.name!r} has no image to add the workspace to",
                    hint="set the role's image (components take --image)",
                )
            if role.image not in built:
                ensure_image(client, address, role.image, options.image_pull_policy)
                built[role.image] = build_image(client, address, role.image, root, files)
        roles = [r.model_dump() | {"image": built[r.image]} for r in app.roles]
        return AppDef.parse({**app.model_dump(), "roles": roles}, source=f"app {app.name!r}")


def build_image(client: APIClient, address: str, base: str, root: Path, files: bytes) -> str:
    """The tag of ``base`` + the workspace, built unless an image with that tag exists."""
    from docker.errors import NotFound

    with translated(address, f"inspect image {base}"):
        base_id = str(client.inspect_image(base)["Id"])  # type: ignore[no-untyped-call]
    dockerfile = _DOCKERFILE.format(base=base, workdir=WORKDIR)
    digest = hashlib.sha256()
    for part in (base_id.encode(), dockerfile.encode(), files):
        digest.update(len(part).to_bytes(8, "big") + part)
    tag = f"{IMAGE_REPO}:{digest.hexdigest()[:20]}"
    labels = {LABEL_WORKSPACE: str(root)}  # where it came from; not part of the hash
    with translated(address, f"inspect image {tag}"):
        try:
            client.inspect_image(tag)  # type: ignore[no-untyped-call]
            return tag  # this exact workspace on this exact base: built before
        except NotFound:
            pass
    context = _context(dockerfile, files)
    with translated(address, f"build the workspace image from {base}"):
        events = client.build(
            fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True, decode=True,
            labels=labels,
        )  # fmt: skip
        _follow_build(events, base, sys.stderr.isatty())
    return tag


def _follow_build(events: Iterator[Any], base: str, show: bool) -> None:
    """Print the build's steps on a TTY; raise its error, if any."""
    for event in events:
        if not isinstance(event, dict):
            continue
        if event.get("error"):
            raise BackendError(
                f"building the workspace image from {base} failed: {event['error'].strip()}",
                scheduler="docker",
            )
        text = event.get("stream")
        if show and text:
            sys.stderr.write(text)
            sys.stderr.flush()


def _context(dockerfile: str, files: bytes) -> io.BytesIO:
    """The build context: the Dockerfile, then the workspace tar's entries under workspace/."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
        with tarfile.open(fileobj=io.BytesIO(files), mode="r") as src:
            for member in src.getmembers():
                source = src.extractfile(member) if member.isfile() else None
                tar.addfile(member, source)
    out.seek(0)
    return out


def workspace_tar(root: Path) -> bytes:
    """The workspace as a tar, entries under ``workspace/``, the same bytes for the same files.

    Raises:
        InvalidInputError: a file cannot be read (naming it).
    """
    rules = read_rules(root)
    prune = can_prune(rules)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, st in _walk(root, rules, prune):
            tar.addfile(*_entry(root, rel, st))
    return out.getvalue()


def _walk(root: Path, rules: Any, prune: bool) -> Iterator[tuple[str, os.stat_result]]:
    """``(relative path, lstat)`` of every kept entry, sorted, depth first; links not followed."""
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            names = sorted(os.listdir(root / rel_dir if rel_dir else root), reverse=True)
        except OSError as err:
            raise InvalidInputError(f"cannot read workspace dir {root / rel_dir}: {err}") from None
        for name in names:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            st = os.lstat(root / rel)
            ignored = is_ignored(rel, rules)
            if stat.S_ISDIR(st.st_mode):
                if ignored and prune:
                    continue
                stack.append(rel)
            if not ignored and (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)
                                or stat.S_ISLNK(st.st_mode)):  # fmt: skip
                yield rel, st


def _entry(root: Path, rel: str, st: os.stat_result) -> tuple[tarfile.TarInfo, Any]:
    """One tar entry: normalised owner and time, so the bytes depend on content alone."""
    if rel.startswith("/") or ".." in rel.split("/"):  # never, from listdir; checked anyway
        raise InvalidInputError(f"unsafe path in workspace: {rel!r}")
    info = tarfile.TarInfo(f"workspace/{rel}")
    info.mode = stat.S_IMODE(st.st_mode)
    info.mtime = 0
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        return info, None
    if stat.S_ISLNK(st.st_mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(root / rel)
        return info, None
    try:
        data = (root / rel).read_bytes()
    except OSError as err:
        raise InvalidInputError(f"cannot read workspace file {root / rel}: {err}") from None
    info.size = len(data)
    return info, io.BytesIO(data)
