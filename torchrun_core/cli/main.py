"""``torchrun-core``: parse the global flags, then hand over to one subcommand module.

Parsing is two-stage so that ``--help`` stays fast: the top-level parser
knows only the subcommand names (from :mod:`torchrun_core.cli.commands`);
the chosen subcommand's module is imported afterwards and parses the rest.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from torchrun_core.cli import gc_policy
from torchrun_core.cli.commands import COMMANDS
from torchrun_core.cli.error_printer import report

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import ModuleType
    from typing import Any, NoReturn

DEBUG_ENV = "TORCHRUN_CORE_DEBUG"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are bad input: one ``error:`` line and a hint."""

    def error(self, message: str) -> NoReturn:
        from torchrun_core.errors import InvalidInputError

        what = "commands" if self.prog == "torchrun-core" else "options"
        raise InvalidInputError(
            message,
            hint=f"see the {what} with: {self.prog} --help",
            usage=self.format_usage().rstrip("\n"),
        )


def _version() -> str:
    from torchrun_core import __version__

    return f"torchrun-core {__version__}"


def _top_parser() -> argparse.ArgumentParser:
    width = max(len(name) for name in COMMANDS)
    listing = "\n".join(f"  {c.name.ljust(width)}  {c.help}" for c in COMMANDS.values())
    parser = _Parser(
        prog="torchrun-core",
        description="Describe a distributed job once; run it on any scheduler.",
        epilog=f"commands:\n{listing}\n\nrun `torchrun-core COMMAND --help` for its options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version())
    _add_debug_flag(parser)
    parser.add_argument(
        "command", metavar="COMMAND", choices=list(COMMANDS), help="one of the commands below"
    )
    return parser


def _add_debug_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks (also: TORCHRUN_CORE_DEBUG=1)"
    )


def _split(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(global flags and the command name, the subcommand's own arguments)."""
    for i, word in enumerate(argv):
        if not word.startswith("-"):
            return list(argv[: i + 1]), list(argv[i + 1 :])
    return list(argv), []


def _sub_parser(name: str, module: ModuleType) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=f"torchrun-core {name}",
        description=(module.__doc__ or COMMANDS[name].help).strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_debug_flag(parser)
    module.add_arguments(parser)
    return parser


def _run(argv: Sequence[str], flags: dict[str, bool]) -> int:
    head, rest = _split(argv)
    top = _top_parser().parse_args(head)
    flags["debug"] |= top.debug
    module = importlib.import_module(COMMANDS[top.command].module)
    args = _sub_parser(top.command, module).parse_args(rest)
    flags["debug"] |= args.debug
    code: int = module.execute(args)
    return code


def _one_line_warnings(show: Callable[..., None]) -> Callable[..., None]:
    """``show`` (warnings.showwarning), except torchrun_core's own warnings: one ``warning:`` line,
    like its errors."""

    def show_warning(
        message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any
    ) -> None:
        if category.__module__.startswith("torchrun_core."):
            sys.stderr.write(f"warning: {message}\n")
        else:
            show(message, category, *args, **kwargs)

    return show_warning


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``torchrun-core`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    flags = {"debug": os.environ.get(DEBUG_ENV, "") not in ("", "0")}
    try:
        try:
            with warnings.catch_warnings():  # restores showwarning for in-process callers
                warnings.showwarning = _one_line_warnings(warnings.showwarning)
                code = _run(argv, flags)
        except SystemExit as exit_:  # argparse's --help, --version and usage errors
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        sys.stdout.flush()  # here, so that a closed pipe is reported like any other error
        return code
    except BaseException as err:
        return report(err, flags["debug"])


def console_main() -> int:
    """The ``torchrun-core`` script: :func:`main` under the CLI's GC policy."""
    gc_policy.pause()
    code = main()
    gc_policy.freeze_for_exit()
    return code


if __name__ == "__main__":
    sys.exit(console_main())
