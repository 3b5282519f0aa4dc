"""Constants the kubernetes tests share (a uniquely named module: ``conftest`` is not)."""

from __future__ import annotations

BUSYBOX = "torchrun-core/busybox:latest"
CFG = {"image_pull_policy": "Never"}  # no registry: the test dockerd's local images only
