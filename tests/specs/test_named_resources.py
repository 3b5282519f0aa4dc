"""Specs resolve a named resource through a resolver, never through the plugin registry."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from torchrun_core import AppDef, Resource, Role
from torchrun_core.specs import named_resources

SMALL = Resource(cpu=1, memory_mb=512)


def test_the_validation_context_resolver_comes_first() -> None:
    asked: list[str] = []

    def resolver(name: str) -> Resource:
        asked.append(name)
        return SMALL

    data = {"name": "a", "roles": [{"name": "r", "entrypoint": "x", "resource": "tiny"}]}
    app = AppDef.model_validate(data, context={named_resources.CONTEXT_KEY: resolver})
    assert app.roles[0].resource == SMALL
    assert asked == ["tiny"]


def test_the_process_wide_resolver_is_the_plugin_registry() -> None:
    # `import torchrun_core` installs it: a name the example plugin registers resolves.
    role = Role(name="r", entrypoint="x", resource="example.small")
    assert role.resource.cpu is not None


def test_without_any_resolver_a_name_is_a_field_error() -> None:
    previous = named_resources.use_resource_resolver(None)
    try:
        with pytest.raises(ValueError, match="no resolver is installed"):
            Role(name="r", entrypoint="x", resource="tiny")
    finally:
        named_resources.use_resource_resolver(previous)


def test_building_a_role_does_not_load_the_registry_until_a_name_is_given() -> None:
    code = textwrap.dedent(
        """
        import sys
        from torchrun_core import Resource, Role
        Role(name="r", entrypoint="x", resource=Resource(cpu=1))
        assert "torchrun_core.registry" not in sys.modules, "specs loaded the registry"
        Role(name="r", entrypoint="x", resource="example.small")
        assert "torchrun_core.registry" in sys.modules
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
