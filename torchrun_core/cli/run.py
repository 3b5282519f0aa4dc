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

from torchrun_core.cli.error_printer import EXIT_INTERRUPTED, print_error
from torchrun_core.cli.output import print_json
from torchrun_core.errors import ComponentError, InvalidInputError

if TYPE_CHECKING:
    from torchrun_core.runner import Runner
    from torchrun_core.specs.dryrun import AppDryRunInfo

APP_FILE_SUFFIXES = (".yaml", ".yml", ".json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-s", "--scheduler", default="local", help="where to run it (default: local)"
    )
    parser.add_argument(
        "--cfg",
        action="append",
        default=[],
        metavar="K=V,...",
        help="scheduler run options, comma-separated, repeatable (see: torchrun-core runopts)",
    )
    parser.add_argument("--wait", action="store_true", help="stream the output, wait for the end")
    parser.add_argument("--dryrun", action="store_true", help="print what would run; submit none")
    parser.add_argument("--parent-run-id", help="link this run to a parent run (trackers)")
    parser.add_argument("--json", action="store_true", help="with --dryrun: print it as JSON")
    parser.add_argument("component", metavar="COMPONENT_OR_APPFILE")
    parser.add_argument(
        "component_args", nargs=argparse.REMAINDER, metavar="...", help="the component's arguments"
    )


def parse_cfg(items: list[str]) -> dict[str, str]:
    """``["a=1,b=2", "c=3"]`` -> ``{"a": "1", "b": "2", "c": "3"}``.

    A piece without ``=`` continues the previous value (``a=x,y`` -> ``x,y``).

    Raises:
        InvalidInputError: for a piece before any ``key=``.
    """
    cfg: dict[str, str] = {}
    for item in items:
        last: str | None = None
        for piece in item.split(","):
            key, eq, value = piece.partition("=")
            if eq and key.strip():
                last = key.strip()
                cfg[last] = value.strip()
            elif last is not None:
                cfg[last] += "," + piece
            elif piece.strip():
                raise InvalidInputError(
                    f"bad --cfg {item!r}: expected key=value[,key2=value2...]",
                    hint="see the options with: torchrun-core runopts <scheduler>",
                )
    return cfg


def is_app_file(target: str) -> bool:
    return target.lower().endswith(APP_FILE_SUFFIXES)


def _dryrun(runner: Runner, args: argparse.Namespace) -> AppDryRunInfo[Any]:
    cfg = parse_cfg(args.cfg)
    common: dict[str, Any] = {
        "scheduler": args.scheduler,
        "cfg": cfg,
        "parent_run_id": args.parent_run_id,
    }
    if is_app_file(args.component):
        if args.component_args:
            raise InvalidInputError(
                f"an app file takes no arguments, got {' '.join(args.component_args)!r}",
                hint="change the file, or run a component instead",
            )
        from torchrun_core.specs.app import AppDef

        return runner.dryrun(AppDef.from_file(args.component), **common)
    return runner.dryrun_component(args.component, args.component_args, **common)


def _hint_misplaced_options(err: ComponentError, args: argparse.Namespace) -> None:
    """Point out run's own options given after the component (they go before it)."""
    own = {"--wait", "--dryrun", "--json", "--cfg", "-s", "--scheduler", "--parent-run-id"}
    misplaced = [a for a in args.component_args if a.split("=")[0] in own]
    if misplaced:
        err.hint = (
            f"options of run itself go before the component: "
            f"torchrun-core run {' '.join(misplaced)} {args.component} ..."
        )


def _dryrun_json(info: AppDryRunInfo[Any]) -> dict[str, Any]:
    from torchrun_core.cli.app_view import redacted_app_dict

    return {
        "scheduler": info.scheduler,
        "session": info.session,
        "app_id": info.app_id,
        "app": redacted_app_dict(info.app),
        "request": str(info),
    }


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.component_loader import ComponentHelpRequested
    from torchrun_core.runner import get_runner

    with get_runner() as runner:
        try:
            info = _dryrun(runner, args)
        except ComponentHelpRequested as help_request:
            sys.stdout.write(help_request.help_text)
            return 0
        except ComponentError as err:
            _hint_misplaced_options(err, args)
            raise
        if args.dryrun:
            if args.json:
                print_json(_dryrun_json(info))
            else:
                sys.stdout.write(f"{info}".rstrip("\n") + "\n")
            return 0
        handle = str(runner.schedule(info))
        if not args.wait:
            sys.stdout.write(f"{handle}\n")
            return 0
        return _wait_and_stream(runner, handle, info)


def _wait_and_stream(runner: Runner, handle: str, info: AppDryRunInfo[Any]) -> int:
    """Print the app's output as it comes, then its handle; 0 only if it SUCCEEDED."""
    from torchrun_core.cli.log_stream import print_logs, replicas_of
    from torchrun_core.specs.state import AppState

    try:
        print_logs(runner, handle, replicas_of(info.app), follow=True)
        status = runner.wait(handle)
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


def _failure_detail(status: Any) -> str:
    failed = [
        f"{r.role}/{r.id} exited with {r.exit_code}"
        for role in status.roles
        for r in role.replicas
        if r.state.value == "FAILED"
    ]
    if failed:
        return f": {', '.join(failed[:3])}"
    return f" ({status.message})" if status.message else ""


def _log_hint(handle: str) -> str:
    return f"see the logs: torchrun-core log {handle}"
