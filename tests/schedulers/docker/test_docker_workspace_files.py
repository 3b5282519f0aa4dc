"""What a workspace puts in its image: .dockerignore rules and the tar, without a daemon."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from torchrun_core.schedulers.shared.dockerignore import is_ignored, parse_rules
from torchrun_core.schedulers.shared.workspace_files import workspace_tar


@pytest.mark.parametrize(
    ("rules", "path", "ignored"),
    [
        ("*.log", "a.log", True),
        ("*.log", "sub/a.log", False),  # * stays within one segment
        ("**/*.log", "sub/deep/a.log", True),
        ("**/*.log", "a.log", True),
        ("build", "build/x/y.o", True),  # a directory takes its contents
        ("/build", "build", True),
        ("build\n!build/keep.txt", "build/keep.txt", False),
        ("build\n!build/keep.txt", "build/drop.txt", True),
        ("data/?.csv", "data/1.csv", True),
        ("data/?.csv", "data/10.csv", False),
        ("[abc].txt", "b.txt", True),
        ("[!abc].txt", "b.txt", False),
        ("# comment\n\n  spaced.txt  ", "spaced.txt", True),
        ("docs/**", "docs/a/b.md", True),
        ("docs/**", "docsx/a.md", False),
    ],
)
def test_ignore_rules(rules: str, path: str, ignored: bool) -> None:
    assert is_ignored(path, parse_rules(rules)) is ignored


def names(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: m for m in tar.getmembers()}


def test_tar_is_the_same_for_the_same_content_and_changes_with_it(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "a").mkdir(parents=True)
    (ws / "a" / "f.py").write_text("x = 1\n")
    (ws / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(ws / "run.sh", 0o755)
    first = workspace_tar(ws)
    os.utime(ws / "a" / "f.py", (1, 1))  # times do not count
    assert workspace_tar(ws) == first
    members = names(first)
    assert sorted(members) == ["workspace/a", "workspace/a/f.py", "workspace/run.sh"]
    assert members["workspace/run.sh"].mode == 0o755
    assert {m.uid for m in members.values()} == {0}
    (ws / "a" / "f.py").write_text("x = 2\n")
    assert workspace_tar(ws) != first


def test_tar_keeps_links_as_links_and_skips_ignored_and_special_files(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "logs").mkdir(parents=True)
    (ws / "logs" / "big.txt").write_text("x")
    (ws / ".dockerignore").write_text("logs\n")
    (ws / "outside").symlink_to("/etc")
    os.mkfifo(ws / "fifo")
    members = names(workspace_tar(ws))
    assert sorted(members) == ["workspace/.dockerignore", "workspace/outside"]
    link = members["workspace/outside"]
    assert link.issym() and link.linkname == "/etc"
    assert all(
        not m.name.startswith("/") and ".." not in m.name.split("/") for m in members.values()
    )
