"""An unreachable API server is one line and exit code 1, with no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: gone
  cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: "t"}
contexts:
- name: gone
  context: {cluster: gone, user: u}
current-context: gone
"""


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(KUBECONFIG)
    proc = subprocess.run(
        [sys.executable, "-m", "torchrun_core", "run", "-s", "kubernetes",
         "--cfg", f"kubeconfig={config}", "utils.echo", "--image", "busybox"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "TORCHRUN_CORE_STATE_DIR": str(tmp_path / "state")},
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith("error: kubernetes create Service") and "cannot reach" in first


def test_missing_kubeconfig_is_bad_input_or_unavailable(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "torchrun_core", "run", "-s", "kubernetes",
         "--cfg", f"kubeconfig={tmp_path / 'nope'}", "utils.echo", "--image", "busybox"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "TORCHRUN_CORE_STATE_DIR": str(tmp_path / "state")},
    )  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "no usable cluster configuration" in proc.stderr.splitlines()[0]
