"""Run a component or an app file on a scheduler.

COMPONENT_OR_APPFILE is a component name (utils.echo), a function in a file
(path/to/file.py:fn) or an app file (*.yaml, *.yml, *.json). The words after
it are the component's arguments; `run COMPONENT --help` lists them.

Prints the app handle as the last line of stdout. With --wait, streams the
app's output first and exits 0 only if the app SUCCEEDED.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from torchrun_core.cli.app_target import (
    add_scheduler_arguments,
    add_target_arguments,
    dryrun_target,
    is_app_file,
    parse_cfg,
    print_component_help,
    print_dryrun,
    print_notes,
    target_runner,
)
from torchrun_core.cli.error_printer import EXIT_INTERRUPTED, print_error

if TYPE_CHECKING:
    from torchrun_core.runner import Runner
    from torchrun_core.specs.dryrun import AppDryRunInfo
    from torchrun_core.specs.status import AppStatus

# Re-exported: they lived here first.
__all__ = ["add_arguments", "execute", "is_app_file", "parse_cfg", "submit_dryrun"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_scheduler_arguments(parser)
    parser.add_argument("--wait", action="store_true", help="stream the output, wait for the end")
    parser.add_argument("--dryrun", action="store_true", help="print what would run; submit none")
    parser.add_argument("--parent-run-id", help="link this run to a parent run (trackers)")
    parser.add_argument(
        "--workspace",
        metavar="DIR",
        help="run DIR's files: docker and kubernetes build it into each role's image "
        "(pushed to --cfg image_repo, run by digest), slurm syncs it",
    )
    parser.add_argument("--json", action="store_true", help="with --dryrun: print it as JSON")
    add_target_arguments(parser, "run")


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.component_loading.loader import ComponentHelpRequested, help_if_requested

    # COMPONENT --help, read from the component's source: no Runner, no pydantic.
    if not is_app_file(args.component):
        help_text = help_if_requested(args.component, args.component_args)
        if help_text is not None:
            sys.stdout.write(help_text)
            return 0
    with target_runner(args) as runner:
        try:
            info = dryrun_target(runner, args)
        except ComponentHelpRequested as help_request:
            return print_component_help(help_request)
        return submit_dryrun(runner, info, args)


def submit_dryrun(runner: Runner, info: AppDryRunInfo[Any], args: argparse.Namespace) -> int:
    """Print ``info`` (``--dryrun``), or schedule it and print the handle (``--wait``: stream too).

    Shared with ``rerun``, which takes the same ``--dryrun``, ``--json`` and ``--wait``.
    """
    if args.dryrun:
        print_dryrun(info, args.json)
        return 0
    handle = str(runner.schedule(info))
    print_notes(info)  # once submitted: a failed submission's error stays the first line
    if not args.wait:
        sys.stdout.write(f"{handle}\n")
        return 0
    return _wait_and_stream(runner, handle, info)


def _wait_and_stream(runner: Runner, handle: str, info: AppDryRunInfo[Any]) -> int:
    """Print the app's output as it comes until it is decided, then its handle.

    Returns 0 only if it SUCCEEDED. A failed replica's siblings are stopped by
    the wait, not waited for.
    """
    from torchrun_core.cli.log_stream import replicas_of
    from torchrun_core.cli.run_follow import wait_printing
    from torchrun_core.specs.state import AppState

    try:
        status = wait_printing(runner, handle, replicas_of(info.app))
    except KeyboardInterrupt:  # only this process stops; the app is detached from it
        sys.stdout.flush()
        sys.stderr.write(
            f"interrupted: app {handle} keeps running\n"
            f"hint: follow it again with: torchrun-core log -f {handle} ; "
            f"stop it with: torchrun-core cancel {handle}\n"
        )
        return EXIT_INTERRUPTED
    sys.stdout.write(f"{handle}\n")
    if status.state is AppState.SUCCEEDED:
        return 0
    print_error(f"app {handle} {status.state.value}{_failure_detail(status)}", _log_hint(handle))
    return 1


def _failure_detail(status: AppStatus) -> str:
    summary = status.failure_summary()
    if summary:
        return f": {summary}"
    return f" ({status.message})" if status.message else ""


def _log_hint(handle: str) -> str:
    return f"see the logs: torchrun-core log {handle}"
