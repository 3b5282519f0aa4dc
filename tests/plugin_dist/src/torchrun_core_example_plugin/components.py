"""The plugin's component and named resource."""

from __future__ import annotations

from torchrun_core.plugin import AppDef, Resource, Role


def hello(name: str = "world", replicas: int = 1) -> AppDef:
    """Greet someone from every replica.

    Args:
        name: who to greet
        replicas: how many replicas greet
    """
    role = Role(
        name="hello",
        entrypoint="echo",
        args=[f"hello {name} from replica ${{replica_id}}"],
        num_replicas=replicas,
        resource="example.small",  # the named resource below, looked up through the plugins
    )
    return AppDef(name="hello", roles=[role])


def small() -> Resource:
    """One core and 512 MiB: what ``Role(resource="example.small")`` asks for."""
    return Resource(cpu=1, memory_mb=512)
