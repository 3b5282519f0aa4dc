"""Apps and checks shared by the docker integration tests."""

from __future__ import annotations

from typing import Any

from torchrun_core.specs.app import AppDef, Role

BUSYBOX = "torchrun-core/busybox:latest"
PYTHON = "torchrun-core/python:3.11"
APP_LABEL = "torchrun_core.app_id"


def shell_app(
    script: str, *, replicas: int = 1, image: str = BUSYBOX, name: str = "sh", **role: Any
) -> AppDef:
    """One role running ``sh -c script`` in ``replicas`` containers."""
    return AppDef(
        name=name,
        roles=[
            Role(
                name="main",
                image=image,
                entrypoint="sh",
                args=["-c", script],
                num_replicas=replicas,
                **role,
            )
        ],
    )


def leftovers(api: Any, app_id: str) -> tuple[list[str], list[str]]:
    """Names of the containers and networks still labelled with ``app_id``."""
    label = {"label": [f"{APP_LABEL}={app_id}"]}
    containers = [c["Names"][0] for c in api.containers(all=True, filters=label)]
    networks = [n["Name"] for n in api.networks(filters=label)]
    return containers, networks
