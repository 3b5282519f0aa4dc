"""The table of subcommands: name, one-line help and the module that runs it.

Only this table is read to build ``torchrun-core --help``; a subcommand's
module is imported when that subcommand runs (or shows its own help), so
the top-level help stays free of pydantic, pluggy and the rest.
"""

from __future__ import annotations


# A plain class, not a dataclass or NamedTuple: importing dataclasses or
# typing costs --help several milliseconds.
class Command:
    """One ``torchrun-core <name>`` subcommand."""

    __slots__ = ("help", "name")

    def __init__(self, name: str, help: str) -> None:
        self.name = name
        self.help = help

    @property
    def module(self) -> str:
        """The module defining ``add_arguments(parser)`` and ``execute(args) -> int``."""
        return f"torchrun_core.cli.{self.name}"


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command("run", "run a component or an app file on a scheduler"),
        Command("dryrun", "print what run would submit, secrets redacted; submit nothing"),
        Command("validate", "check a component or app file and the scheduler's options"),
        Command("schema", "print the JSON Schema of app files (for editors)"),
        Command("status", "show the status of an app"),
        Command("wait", "wait until an app reaches a state (default: until it ends)"),
        Command("log", "print the output of an app's replicas"),
        Command("cancel", "cancel apps, or the live apps a filter selects"),
        Command("delete", "stop apps if needed, clean up after them and forget them"),
        Command("list", "list the apps submitted from this machine"),
        Command("describe", "show an app's spec, options, status and history"),
        Command("metrics", "show the metrics and progress an app reported (file tracker)"),
        Command("checkpoints", "show the checkpoints an app recorded, complete or not"),
        Command("events", "show an app's state history with sequence numbers"),
        Command("rerun", "submit a recorded run again as its child, with overrides"),
        Command("runopts", "show the run options of the schedulers"),
        Command("plugins", "show the loaded plugins, what they provide, and their errors"),
        Command("builtins", "list the installed components"),
        Command("config", "show the effective configuration and where each value comes from"),
        Command("ui", "serve a dashboard of runs, logs and metrics in a browser ([ui] extra)"),
    )
}
