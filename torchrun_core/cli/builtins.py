"""List the installed components with the first line of their help."""

from __future__ import annotations

import argparse
import inspect
from typing import TYPE_CHECKING, Any

from torchrun_core.cli.output import add_json_flag, print_json, print_table

if TYPE_CHECKING:
    from torchrun_core.plugins import Provided


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_json_flag(parser)


def summary_line(provider: Provided) -> str:
    """The first line of the component's docstring, or why it cannot be loaded."""
    try:
        fn = provider.load()
    except Exception as err:
        return f"(cannot be loaded: {err})"
    doc = inspect.getdoc(fn) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.plugins import get_registry

    components: list[dict[str, Any]] = [
        {"name": name, "plugin": p.plugin, "help": summary_line(p)}
        for name, providers in get_registry().provided("components").items()
        for p in providers
    ]
    if args.json:
        print_json(components)
    else:
        print_table(
            ("NAME", "PLUGIN", "HELP"), [(c["name"], c["plugin"], c["help"]) for c in components]
        )
    return 0
