"""The docker plan as readable text (``torchrun-core dryrun -s docker``), secrets redacted."""

from __future__ import annotations

import shlex
from typing import Any

from torchrun_core.schedulers.docker.plan import ContainerSpec, DockerPlan
from torchrun_core.schedulers.shared.docker_daemon import daemon_address
from torchrun_core.specs.dryrun import REDACTED, is_secret_key


def format_plan(plan: DockerPlan) -> str:
    """What ``schedule`` will create, one block per container."""
    if plan.create_network:
        network = f"{plan.network} (a bridge made for this app; cancel removes it)"
    else:
        network = f"{plan.network} (not made or removed by torchrun_core)"
    lines = [
        f"docker app {plan.app_name!r} as {plan.app_id} (session {plan.session})",
        f"  daemon:  {daemon_address(plan.host)}",
        f"  network: {network}",
        f"  images:  {', '.join(plan.images)} (pull policy: {plan.image_pull_policy})",
        f"  stop:    SIGTERM, then SIGKILL after {plan.grace_period}s; cancel removes "
        "the containers",
    ]
    lines += [f"  note:    {note}" for note in plan.notes]
    by_role: dict[str, list[ContainerSpec]] = {}
    for spec in plan.containers:
        by_role.setdefault(spec.role, []).append(spec)
    for role in plan.roles:
        lines.append(
            f"role {role.name}: {role.num_replicas} replica(s), retry_policy "
            f"{role.retry_policy}, max_retries {role.max_retries}"
        )
        for spec in by_role.get(role.name, []):
            lines += _container_lines(spec)
    return "\n".join(lines)


def _container_lines(spec: ContainerSpec) -> list[str]:
    body = spec.body
    env = " ".join(shlex.quote(_redacted(pair)) for pair in body["Env"])
    argv = [*body["Entrypoint"], *body["Cmd"]]
    lines = [
        f"  {spec.name}" + (f" (hostname {spec.hostname})" if spec.hostname else ""),
        f"    image  {body['Image']}",
        f"    argv   {shlex.join(argv)}",
        f"    env    {env}",
    ]
    host = body["HostConfig"]
    resources = _resources(host)
    if resources:
        lines.append(f"    limits {resources}")
    for mount in host.get("Mounts", []):
        mode = "ro" if mount["ReadOnly"] else "rw"
        lines.append(f"    mount  {mount['Type']} {mount['Source']} -> {mount['Target']} ({mode})")
    for dev in host.get("Devices", []):
        lines.append(
            f"    device {dev['PathOnHost']} -> {dev['PathInContainer']} "
            f"({dev['CgroupPermissions']})"
        )
    for port in host.get("PortBindings", {}):
        lines.append(f"    port   {port} -> 127.0.0.1:<a free port>")
    return lines


def _resources(host: dict[str, Any]) -> str:
    parts = []
    if "NanoCpus" in host:
        parts.append(f"cpus {host['NanoCpus'] / 1e9:g}")
    if "Memory" in host:
        parts.append(f"memory {host['Memory'] >> 20} MiB")
    if "ShmSize" in host:
        parts.append(f"shm {host['ShmSize'] >> 20} MiB")
    for request in host.get("DeviceRequests", []):
        parts.append(f"gpus {request['Count']}")
    if host.get("Privileged"):
        parts.append("privileged")
    return ", ".join(parts)


def _redacted(pair: str) -> str:
    key, _, _ = pair.partition("=")
    return f"{key}={REDACTED}" if is_secret_key(key) else pair
