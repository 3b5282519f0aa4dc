"""List the installed components with the first line of their help.

Each name appears once, with the plugin whose component `run NAME` uses: a
third-party plugin's component overrides a builtin of the same name (shown
as "overrides ..."); a name several third-party plugins provide is a
conflict, and using it is an error. The help is read from the component's
source where possible, without importing it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from torchrun_core.cli.output import add_json_flag, print_json, print_table

if TYPE_CHECKING:
    from torchrun_core.component_loading.discovery import ComponentEntry
    from torchrun_core.registry import Provided


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_json_flag(parser)


def summary_line(provider: Provided) -> str:
    """The first line of the component's docstring, or why it cannot be loaded."""
    from torchrun_core.component_loading.source import plugin_summary

    summary = plugin_summary(provider)  # from the source: no import
    if summary is not None:
        return summary
    import inspect

    try:
        fn = provider.load()
    except Exception as err:
        return f"(cannot be loaded: {err})"
    doc = inspect.getdoc(fn) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def component_row(entry: ComponentEntry) -> dict[str, Any]:
    """One component as plain data: name, winning plugin, help, overridden, conflicting."""
    if entry.winner is None:
        return {
            "name": entry.name,
            "plugin": None,
            "help": f"(error: {entry.conflict_error()})",
            "overrides": [],
            "conflict": [p.plugin for p in entry.conflicting],
        }
    return {
        "name": entry.name,
        "plugin": entry.winner.plugin,
        "help": summary_line(entry.winner),
        "overrides": [p.plugin for p in entry.overridden],
        "conflict": [],
    }


def _plugin_cell(row: dict[str, Any]) -> str:
    if row["conflict"]:
        return f"CONFLICT: {', '.join(row['conflict'])}"
    if row["overrides"]:
        return f"{row['plugin']} (overrides {', '.join(row['overrides'])})"
    return str(row["plugin"])


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.component_loading.discovery import component_table
    from torchrun_core.registry import get_registry

    rows = [component_row(entry) for entry in component_table(get_registry()).values()]
    if args.json:
        print_json(rows)
    else:
        print_table(
            ("NAME", "PLUGIN", "HELP"), [(r["name"], _plugin_cell(r), r["help"]) for r in rows]
        )
    return 0
