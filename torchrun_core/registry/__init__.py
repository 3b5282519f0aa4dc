"""Discover plugins through entry points and look up what they provide.

Builtins and third-party packages are found the same way: the
``torchrun_core`` entry-point group. A plugin that fails to import is
recorded with its reason and skipped; ``TORCHRUN_CORE_BLOCK_PLUGINS``
(comma-separated entry-point names) keeps named plugins from loading.
"""

from __future__ import annotations

import importlib
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

from torchrun_core import hookspecs
from torchrun_core.errors import (
    ComponentError,
    PluginConflictError,
    PluginError,
    UnknownSchedulerError,
)
from torchrun_core.registry.checks import (
    PluginWarning,
    hook_problems,
    registered_hook_problems,
    why_missing,
)

if TYPE_CHECKING:
    from torchrun_core.specs.resource import Resource

BLOCK_ENV = "TORCHRUN_CORE_BLOCK_PLUGINS"
KINDS = ("schedulers", "components", "named_resources", "trackers", "workspace_builders")


@dataclass(frozen=True)
class Provided:
    """One name a plugin provides: a scheduler, component, resource, tracker or builder."""

    kind: str
    name: str
    plugin: str
    target: Any  # the object, or a "module:attr" string

    def load(self) -> Any:
        """The object itself, importing a ``"module:attr"`` target on first use."""
        if not isinstance(self.target, str):
            return self.target
        module_name, _, attr = self.target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split(".") if attr else []:
                obj = getattr(obj, part)
        except Exception as err:
            raise PluginError(
                f"plugin {self.plugin!r} names {self.kind[:-1]} {self.name!r} as "
                f"{self.target!r}, which cannot be loaded: {_import_failure(err)}",
                plugin=self.plugin,
            ) from err
        return obj


def _import_failure(err: Exception) -> str:
    """``err`` in one line; a syntax error by its full path (Python's message has the basename)."""
    if isinstance(err, SyntaxError) and err.filename:
        return f"{err.filename}:{err.lineno}: syntax error: {err.msg}"
    return f"{type(err).__name__}: {err}"


@dataclass
class PluginRegistry:
    """The loaded plugins and everything they provide, by kind and name."""

    manager: pluggy.PluginManager
    load_errors: dict[str, str] = field(default_factory=dict)
    blocked: list[str] = field(default_factory=list)
    # Plugin name -> its torchrun_core_* functions that are never called (plugin_checks).
    hook_problems: dict[str, list[str]] = field(default_factory=dict)
    _provided: dict[str, dict[str, list[Provided]]] = field(default_factory=dict)

    def register(self, plugin: object, name: str | None = None) -> None:
        """Add a plugin object or module in-process (tests, embedding apps), like an entry point."""
        registered = self.manager.register(plugin, name=name)
        self._provided.clear()  # what is provided changed
        problems = hook_problems(plugin)
        if registered is not None and problems:
            self.hook_problems[registered] = problems
            _warn_hook_problems({registered: problems})

    # -- what is provided ---------------------------------------------------
    def provided(self, kind: str) -> dict[str, list[Provided]]:
        """Every name of ``kind`` with all the plugins providing it (conflicts included)."""
        if kind not in self._provided:
            self._provided[kind] = self._collect(kind)
        return self._provided[kind]

    def _collect(self, kind: str) -> dict[str, list[Provided]]:
        caller = getattr(self.manager.hook, f"torchrun_core_{kind}")
        by_name: dict[str, list[Provided]] = {}
        for impl in caller.get_hookimpls():
            try:
                mapping = impl.function() or {}
            except Exception as err:  # a broken plugin must not break the others
                self.load_errors[impl.plugin_name] = f"{kind} hook raised {err!r}"
                continue
            for name, target in dict(mapping).items():
                by_name.setdefault(name, []).append(Provided(kind, name, impl.plugin_name, target))
        return dict(sorted(by_name.items()))

    def conflicts(self) -> list[tuple[str, str, list[str]]]:
        """``(kind, name, plugins)`` for every name provided more than once."""
        return [
            (kind, name, [p.plugin for p in providers])
            for kind in KINDS
            for name, providers in self.provided(kind).items()
            if len(providers) > 1
        ]

    def get(self, kind: str, name: str) -> Provided | None:
        """The single provider of ``name``, None when absent.

        Raises:
            PluginConflictError: when several plugins provide it, naming them.
        """
        providers = self.provided(kind).get(name)
        if not providers:
            return None
        if len(providers) > 1:
            names = " and ".join(repr(p.plugin) for p in providers)
            raise PluginConflictError(
                f"{kind[:-1].replace('_', ' ')} {name!r} is provided by both plugins {names}",
                hint=f"uninstall one, or block one with {BLOCK_ENV}=<plugin>",
                name=name,
            )
        return providers[0]

    def names(self, kind: str) -> list[str]:
        return list(self.provided(kind))

    # -- typed look-ups -----------------------------------------------------
    def scheduler_factory(self, name: str) -> Callable[..., Any]:
        """The factory of scheduler ``name``.

        Raises:
            UnknownSchedulerError: listing the schedulers that exist.
        """
        provider = self.get("schedulers", name)
        if provider is None:
            known = ", ".join(self.names("schedulers")) or "none"
            why = why_missing("schedulers", name, self.load_errors, self.blocked, BLOCK_ENV)
            raise UnknownSchedulerError(
                f"unknown scheduler {name!r}" + (f": {why}" if why else ""),
                hint=f"installed schedulers: {known}"
                + ("; see the plugins with: torchrun-core plugins" if why else ""),
                scheduler=name,
            )
        factory: Callable[..., Any] = provider.load()
        return factory

    def component(self, name: str) -> Callable[..., Any]:
        provider = self.get("components", name)
        if provider is None:
            raise ComponentError(
                f"unknown component {name!r}",
                hint="list them with: torchrun-core builtins",
                component=name,
            )
        fn: Callable[..., Any] = provider.load()
        return fn

    def fire_event(self, event: hookspecs.RunnerEvent) -> None:
        """Tell every observer; an observer's exception never reaches the caller."""
        for impl in self.manager.hook.torchrun_core_on_event.get_hookimpls():
            try:
                impl.function(event=event)
            except Exception as err:  # observe-only by contract
                self.load_errors.setdefault(impl.plugin_name, f"on_event raised {err!r}")


def _blocked_names() -> list[str]:
    return [n.strip() for n in os.environ.get(BLOCK_ENV, "").split(",") if n.strip()]


def load_plugins(group: str = hookspecs.PROJECT) -> PluginRegistry:
    """Discover and register every plugin of the entry-point group."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    registry = PluginRegistry(manager, blocked=_blocked_names())
    for name in registry.blocked:
        manager.set_blocked(name)
    # load_setuptools_entrypoints stops at the first broken plugin; note it,
    # block it, and go on so that one broken package hides nothing else.
    while True:
        try:
            manager.load_setuptools_entrypoints(group)
            break
        except Exception as err:
            culprit = _first_unloaded_entry_point(manager, group)
            if culprit is None:  # cannot attribute it: stop rather than loop
                registry.load_errors["<entry points>"] = f"{type(err).__name__}: {err}"
                break
            registry.load_errors[culprit] = f"{type(err).__name__}: {err}"
            manager.set_blocked(culprit)
    registry.hook_problems = registered_hook_problems(manager)
    _warn_hook_problems(registry.hook_problems)
    return registry


def _warn_hook_problems(problems: dict[str, list[str]]) -> None:
    for plugin, lines in problems.items():
        for line in lines:
            warnings.warn(f"plugin {plugin!r}: {line}", PluginWarning, stacklevel=3)


def _first_unloaded_entry_point(manager: pluggy.PluginManager, group: str) -> str | None:
    """The entry point pluggy was loading when it raised (it goes in this order)."""
    import importlib.metadata

    for dist in list(importlib.metadata.distributions()):
        for ep in dist.entry_points:
            if ep.group != group or manager.get_plugin(ep.name) or manager.is_blocked(ep.name):
                continue
            return str(ep.name)
    return None


_registry: PluginRegistry | None = None
_lock = threading.Lock()


def get_registry() -> PluginRegistry:
    """The process-wide registry, loaded on first use."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = load_plugins()
        return _registry


def reset_registry() -> None:
    """Forget the loaded plugins (tests, or after installing a package)."""
    global _registry
    with _lock:
        _registry = None


def named_resource(name: str) -> Resource:
    """The Resource a plugin registered as ``name``.

    Raises:
        ValueError: naming the known resources (pydantic turns it into a field error).
    """
    from torchrun_core.specs.resource import Resource

    provider = get_registry().get("named_resources", name)
    if provider is None:
        known = ", ".join(get_registry().names("named_resources")) or "none installed"
        raise ValueError(f"unknown named resource {name!r} (known: {known})")
    value = provider.load()
    resource = value() if callable(value) and not isinstance(value, Resource) else value
    if not isinstance(resource, Resource):
        raise ValueError(
            f"named resource {name!r} from plugin {provider.plugin!r} is not a Resource"
        )
    return resource


__all__ = [
    "BLOCK_ENV",
    "KINDS",
    "PluginRegistry",
    "PluginWarning",
    "Provided",
    "get_registry",
    "load_plugins",
    "named_resource",
    "reset_registry",
]
