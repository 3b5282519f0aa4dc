"""How a Role's ``resource`` given by name (``"gpu.small"``) becomes a Resource.

Specs do not know where names come from: plugins register them, and the plugin
registry sits above the specs. So the specs ask a *resolver*, a function from
a name to a Resource, found in this order:

1. the validation context's ``"resource_resolver"``, for one validation:
   ``Role.model_validate(data, context={"resource_resolver": fn})``;
2. the process-wide resolver installed with :func:`use_resource_resolver`.
   ``import torchrun_core`` installs one that asks the plugin registry, so
   ``Role(resource="gpu.small")`` works as it always has.

A resolver raises ValueError for a name it does not know (pydantic turns it
into a field error naming ``resource``).
"""

from __future__ import annotations

# typing.TYPE_CHECKING without importing typing: ``import torchrun_core`` imports
# this module to install its resolver, and must stay cheap.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, TypeAlias

    from torchrun_core.specs.resource import Resource

    #: A function from a resource's name to the Resource (ValueError when unknown).
    ResourceResolver: TypeAlias = Callable[[str], Resource]

#: The validation-context key of a resolver for one validation.
CONTEXT_KEY = "resource_resolver"

_resolver: ResourceResolver | None = None


def use_resource_resolver(resolver: ResourceResolver | None) -> ResourceResolver | None:
    """Make ``resolver`` the process-wide one (None: none); returns the previous one."""
    global _resolver
    previous, _resolver = _resolver, resolver
    return previous


def resolve_named_resource(name: str, context: Mapping[str, Any] | None = None) -> Resource:
    """The Resource called ``name``, from the context's resolver or the process-wide one.

    Raises:
        ValueError: no resolver knows ``name``, or none is installed.
    """
    resolver = (context or {}).get(CONTEXT_KEY) or _resolver
    if resolver is None:
        raise ValueError(
            f"named resource {name!r} cannot be resolved: no resolver is installed "
            "(give a Resource, or pass one in the validation context)"
        )
    resolved: Resource = resolver(name)
    return resolved


__all__ = ["CONTEXT_KEY", "resolve_named_resource", "use_resource_resolver"]
