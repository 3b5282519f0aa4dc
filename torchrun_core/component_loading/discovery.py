"""Which plugin's component a name means: third-party plugins override the builtins.

Components are looked up, highest precedence first, as

1. a file, ``path/to/file.py:fn`` (handled by the loader, not here);
2. a third-party plugin's component, through the ``torchrun_core_components`` hook;
3. a builtin, registered by a plugin of the ``torchrun-core`` distribution itself.

So a package may replace ``utils.echo`` on purpose, while a name that two
third-party plugins both provide is a :class:`PluginConflictError` naming
them. Schedulers and the other kinds keep the stricter rule of
:meth:`PluginRegistry.get` (any duplicate is a conflict).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from torchrun_core.errors import ComponentError, PluginConflictError

if TYPE_CHECKING:
    from torchrun_core.registry import PluginRegistry, Provided

BUILTIN_DISTRIBUTION = "torchrun-core"


class ComponentEntry:
    """One component name: the provider that wins, and the ones it hides or clashes with."""

    __slots__ = ("conflicting", "name", "overridden", "winner")

    def __init__(
        self,
        name: str,
        winner: Provided | None,
        overridden: list[Provided],
        conflicting: list[Provided],
    ) -> None:
        self.name = name
        self.winner = winner  # None when several plugins of the same rank provide it
        self.overridden = overridden  # builtins hidden by a third-party plugin
        self.conflicting = conflicting  # the clashing providers, when winner is None

    def conflict_error(self) -> PluginConflictError:
        names = " and ".join(repr(p.plugin) for p in self.conflicting)
        return PluginConflictError(
            f"component {self.name!r} is provided by several plugins: {names}",
            hint="uninstall one, or block one with TORCHRUN_CORE_BLOCK_PLUGINS=<plugin>",
            name=self.name,
        )


def builtin_plugins(registry: PluginRegistry) -> set[str]:
    """Names of the plugins registered by the torchrun-core distribution itself."""
    manager = registry.manager
    out = set()
    for plugin, dist in manager.list_plugin_distinfo():
        if _normalized(dist.metadata["name"] or "") == BUILTIN_DISTRIBUTION:
            name = manager.get_name(plugin)
            if name is not None:
                out.add(name)
    return out


def _normalized(project: str) -> str:
    return project.lower().replace("_", "-").replace(".", "-")


# Per registry (by id, checked through a weak reference), valid while its
# provided("components") mapping is the same object: the registry replaces
# that mapping whenever a plugin is registered.
_tables: dict[int, tuple[weakref.ref[PluginRegistry], object, dict[str, ComponentEntry]]] = {}


def component_table(registry: PluginRegistry) -> dict[str, ComponentEntry]:
    """Every component name with its resolution, sorted by name."""
    provided = registry.provided("components")
    cached = _tables.get(id(registry))
    if cached is not None and cached[0]() is registry and cached[1] is provided:
        return cached[2]
    for key in [k for k, (ref, _, _) in _tables.items() if ref() is None]:
        del _tables[key]  # registries gone (tests make many)
    builtin = builtin_plugins(registry)
    table = {}
    for name, providers in provided.items():
        third_party = [p for p in providers if p.plugin not in builtin]
        builtins = [p for p in providers if p.plugin in builtin]
        rank = third_party or builtins
        if len(rank) == 1:
            table[name] = ComponentEntry(name, rank[0], builtins if third_party else [], [])
        else:
            table[name] = ComponentEntry(name, None, [], rank)
    _tables[id(registry)] = (weakref.ref(registry), provided, table)
    return table


def find_component(name: str, registry: PluginRegistry) -> Provided:
    """The provider that component ``name`` resolves to.

    Raises:
        ComponentError: no plugin provides it.
        PluginConflictError: several third-party plugins provide it, naming them.
    """
    entry = component_table(registry).get(name)
    if entry is None:
        raise ComponentError(
            f"unknown component {name!r}",
            hint="list them with: torchrun-core builtins",
            component=name,
        )
    if entry.winner is None:
        raise entry.conflict_error()
    return entry.winner


__all__ = [
    "BUILTIN_DISTRIBUTION",
    "ComponentEntry",
    "builtin_plugins",
    "component_table",
    "find_component",
]
