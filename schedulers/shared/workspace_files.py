"""A workspace directory as a tar: the same bytes for the same files, ignore files honoured.

``.dockerignore`` and ``.torchrunignore`` (same syntax, read in that order)
keep files out. Entries are relative paths inside DIR, never ``..`` or
absolute; owners and times are normalised so the bytes depend on content
alone; symlinks are stored as links (their targets are not read), and
sockets, pipes and devices are skipped.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from torchrun_core.errors import InvalidInputError
from torchrun_core.schedulers.shared.dockerignore import can_prune, is_ignored, read_rules

IGNORE_FILES = (".dockerignore", ".torchrunignore")


def workspace_tar(root: Path, prefix: str = "workspace/", always: tuple[str, ...] = ()) -> bytes:
    """The workspace as a tar, entries under ``prefix``, the same bytes for the same files.

    ``always`` names top-level files kept even when an ignore file lists them
    (a build context's ``Dockerfile`` and ``.dockerignore``: like ``docker
    build``, the daemon needs them and itself keeps them out of ``COPY``).

    Raises:
        InvalidInputError: a file cannot be read (naming it).
    """
    rules = read_rules(root, IGNORE_FILES)
    prune = can_prune(rules)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, st in _walk(root, rules, prune, always):
            tar.addfile(*_entry(root, rel, st, prefix))
    return out.getvalue()


def tar_summary(data: bytes) -> tuple[int, int]:
    """``(files, bytes)`` of regular files in a workspace tar."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        sizes = [m.size for m in tar.getmembers() if m.isfile()]
    return len(sizes), sum(sizes)


def _walk(
    root: Path, rules: Any, prune: bool, always: tuple[str, ...] = ()
) -> Iterator[tuple[str, os.stat_result]]:
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
            ignored = is_ignored(rel, rules) and not (stat.S_ISREG(st.st_mode) and rel in always)
            if stat.S_ISDIR(st.st_mode):
                if ignored and prune:
                    continue
                stack.append(rel)
            if not ignored and (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)
                                or stat.S_ISLNK(st.st_mode)):  # fmt: skip
                yield rel, st


def _entry(root: Path, rel: str, st: os.stat_result, prefix: str) -> tuple[tarfile.TarInfo, Any]:
    """One tar entry: normalised owner and time, so the bytes depend on content alone."""
    if rel.startswith("/") or ".." in rel.split("/"):  # never, from listdir; checked anyway
        raise InvalidInputError(f"unsafe path in workspace: {rel!r}")
    info = tarfile.TarInfo(f"{prefix}{rel}")
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
