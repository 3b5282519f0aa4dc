"""The slurm workspace: ``run --workspace DIR`` syncs DIR to the cluster; roles run from there.

DIR is mirrored over SFTP into a cache on the login node,
``<job_dir option>/.workspaces/<hash of DIR's path>``, uploading only files
whose size or mtime changed and deleting files gone from DIR. At submission
the cache is hard-linked (``cp -al``) into the app's job dir as
``workspace/``, so each app keeps its own snapshot; an upload replaces a file
by rename, which leaves the snapshots' links untouched.

Only regular files are synced: symlinks, sockets and devices are skipped, and
paths come from walking DIR, so nothing outside it is read or written.
``.torchrunignore`` in DIR keeps files out (``.dockerignore`` syntax).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchrun_core.errors import InvalidInputError
from torchrun_core.schedulers.shared.dockerignore import IgnoreRule, is_ignored, parse_rules
from torchrun_core.schedulers.slurm.ssh_transport import Transport
from torchrun_core.specs.app import AppDef

if TYPE_CHECKING:
    from torchrun_core.scheduler import Scheduler

IGNORE_FILE = ".torchrunignore"
WORKSPACE_METADATA = "torchrun_core.slurm.workspace"


def cache_dir(job_root: str, local_dir: str) -> str:
    """The login node's mirror of ``local_dir``."""
    digest = hashlib.sha256(os.path.abspath(local_dir).encode()).hexdigest()[:16]
    return f"{job_root.rstrip('/')}/.workspaces/{digest}"


def local_files(root: Path) -> Iterator[tuple[str, Path, os.stat_result]]:
    """``(relative posix path, path, stat)`` of every regular file of ``root`` not ignored."""
    rules: list[IgnoreRule] = []
    if (root / IGNORE_FILE).is_file():
        rules = parse_rules((root / IGNORE_FILE).read_text(encoding="utf-8"))
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if not is_ignored(prefix + d, rules))
        for name in sorted(filenames):
            rel = prefix + name
            path = Path(dirpath, name)
            st = path.lstat()
            if not stat.S_ISREG(st.st_mode) or is_ignored(rel, rules):
                continue
            if any(c in rel for c in "\n\t\r"):
                raise InvalidInputError(f"workspace file name {rel!r} holds a tab or newline")
            yield rel, path, st


def _remote_files(transport: Transport, cache: str) -> dict[str, tuple[int, int]]:
    """``{relative path: (size, mtime)}`` of the cache, in one round trip."""
    quoted = shlex.quote(cache)
    done = transport.run(f"mkdir -p {quoted} && find {quoted} -type f -printf '%P\\t%s\\t%T@\\n'")
    found = {}
    for line in done.stdout.splitlines():
        rel, _, rest = line.partition("\t")
        size, _, mtime = rest.partition("\t")
        if size.isdigit():
            found[rel] = (int(size), int(float(mtime or 0)))
    return found


def sync_workspace(transport: Transport, local_dir: str, cache: str) -> int:
    """Mirror ``local_dir`` into ``cache``; returns how many files were uploaded."""
    remote = _remote_files(transport, cache)
    made_dirs = {""}
    uploaded = 0
    wanted = set()
    for rel, path, st in local_files(Path(local_dir)):
        wanted.add(rel)
        if remote.get(rel) == (st.st_size, int(st.st_mtime)):
            continue
        parent = rel.rpartition("/")[0]
        if parent not in made_dirs:
            transport.mkdir(f"{cache}/{parent}")
            made_dirs.add(parent)
        transport.put(str(path), f"{cache}/{rel}", float(int(st.st_mtime)))
        uploaded += 1
    stale = sorted(set(remote) - wanted)
    if stale:
        names = " ".join(shlex.quote(f"{cache}/{rel}") for rel in stale)
        transport.run(f"rm -f -- {names}")
    return uploaded


class SlurmWorkspaceBuilder:
    """Marks the app to run from a synced copy of the workspace (the sync is at submit)."""

    def __init__(self, scheduler: Scheduler[Any]) -> None:
        self.scheduler = scheduler  # the builder needs nothing of it: the sync is the scheduler's

    def build(self, app: AppDef, workspace: str, cfg: Mapping[str, Any] | None = None) -> AppDef:
        """``app`` with the workspace recorded in its metadata.

        Raises:
            InvalidInputError: the workspace is not a directory.
        """
        root = Path(workspace).expanduser()
        if not root.is_dir():
            raise InvalidInputError(f"workspace {workspace!r} is not a directory")
        return app.model_copy(
            update={"metadata": {**app.metadata, WORKSPACE_METADATA: str(root.resolve())}}
        )
