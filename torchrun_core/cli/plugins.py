"""Show the loaded plugins and what each provides, plugins that failed to load and
why, blocked plugins, hook functions that are never called (a misspelled hook
name, a missing @hookimpl), and names that two plugins both provide."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from torchrun_core.cli.output import add_json_flag, format_table, print_json

if TYPE_CHECKING:
    from torchrun_core.registry import PluginRegistry


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_json_flag(parser)


def _distributions(registry: PluginRegistry) -> dict[str, str]:
    """Plugin name -> "distribution version" for plugins loaded from entry points."""
    manager = registry.manager
    out = {}
    for plugin, dist in manager.list_plugin_distinfo():
        name = manager.get_name(plugin)
        if name is not None:
            out[name] = f"{dist.metadata['name']} {dist.version}"
    return out


def plugin_report(registry: PluginRegistry) -> dict[str, Any]:
    """Everything ``plugins`` shows, as plain data."""
    from torchrun_core.registry import KINDS

    names = sorted(n for n, plugin in registry.manager.list_name_plugin() if plugin is not None)
    provides: dict[str, dict[str, list[str]]] = {n: {} for n in names}
    for kind in KINDS:
        for item, providers in registry.provided(kind).items():
            for provider in providers:
                provides.setdefault(provider.plugin, {}).setdefault(kind, []).append(item)
    dists = _distributions(registry)
    overrides = _component_overrides(registry)
    return {
        "plugins": [
            {"name": n, "distribution": dists.get(n), "provides": provides[n]} for n in provides
        ],
        # Read after provided(): a plugin whose hook raises is recorded there.
        "load_errors": [{"name": n, "reason": r} for n, r in sorted(registry.load_errors.items())],
        "blocked": list(registry.blocked),
        "hook_problems": [
            {"name": n, "problem": line}
            for n, lines in sorted(registry.hook_problems.items())
            for line in lines
        ],
        "conflicts": [
            {"kind": kind, "name": name, "plugins": plugins}
            for kind, name, plugins in registry.conflicts()
            if kind != "components" or name not in overrides
        ],
        "overrides": [
            {"kind": "components", "name": name, "plugin": plugin, "overrides": hidden}
            for name, (plugin, hidden) in overrides.items()
        ],
    }


def _component_overrides(registry: PluginRegistry) -> dict[str, tuple[str, list[str]]]:
    """Component name -> (third-party plugin, builtin plugins it overrides): not conflicts."""
    from torchrun_core.component_loading.discovery import component_table

    return {
        e.name: (e.winner.plugin, [p.plugin for p in e.overridden])
        for e in component_table(registry).values()
        if e.winner is not None and e.overridden
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as text: a table of plugins, then errors, blocked plugins and conflicts."""
    rows = [
        (
            p["name"],
            p["distribution"],
            "; ".join(f"{kind}: {', '.join(items)}" for kind, items in p["provides"].items())
            or None,
        )
        for p in report["plugins"]
    ]
    out = [format_table(("PLUGIN", "DISTRIBUTION", "PROVIDES"), rows)]
    if report["load_errors"]:
        out += ["", "failed to load (skipped):"]
        out += [f"  {e['name']}: {e['reason']}" for e in report["load_errors"]]
    if report["blocked"]:
        out += ["", f"blocked: {', '.join(report['blocked'])}"]
    if report["hook_problems"]:
        out += ["", "never called (check the hook names and @hookimpl):"]
        out += [f"  {p['name']}: {p['problem']}" for p in report["hook_problems"]]
    if report["overrides"]:
        out += ["", "overrides (a third-party plugin's component replaces the builtin):"]
        for o in report["overrides"]:
            hidden = " and ".join(repr(p) for p in o["overrides"])
            out.append(f"  component {o['name']!r}: {o['plugin']!r} overrides {hidden}")
    if report["conflicts"]:
        out += ["", "conflicts (using either name is an error):"]
        for c in report["conflicts"]:
            both = " and ".join(repr(p) for p in c["plugins"])
            out.append(f"  {c['kind'][:-1].replace('_', ' ')} {c['name']!r}: provided by {both}")
    return "\n".join(out) + "\n"


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.registry import get_registry

    report = plugin_report(get_registry())
    if args.json:
        print_json(report)
    else:
        sys.stdout.write(format_report(report))
    return 0
