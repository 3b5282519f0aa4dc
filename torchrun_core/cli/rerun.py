"""Submit a recorded run again, as a child of it, with optional overrides.

Takes the AppDef and scheduler options the run store recorded for HANDLE,
applies --cfg, --replicas, --resource and --env, and submits the result
(by default to the run's own scheduler). Prints the new handle as the last
line of stdout.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from torchrun_core.cli.app_target import add_scheduler_arguments, parse_cfg
from torchrun_core.errors import InvalidInputError

if TYPE_CHECKING:
    from torchrun_core.runner.rerun import RerunOverrides

EVERY_ROLE = "*"  # the same as torchrun_core.runner.rerun.EVERY_ROLE, without importing it


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("handle", metavar="HANDLE", help="the run to submit again")
    add_scheduler_arguments(parser)
    # Unlike run, the default is where the old run ran, not the configured scheduler.
    parser._option_string_actions[
        "--scheduler"
    ].help = "submit to this scheduler (default: the run's own)"
    parser.add_argument(
        "--replicas",
        action="append",
        default=[],
        metavar="[ROLE=]N",
        help="run N replicas of ROLE (of every role without ROLE=); repeatable",
    )
    parser.add_argument(
        "--resource",
        action="append",
        default=[],
        metavar="[ROLE.]FIELD=V",
        help="set a resource field of ROLE (every role without ROLE.): cpu, gpu, memMB "
        "(memory_mb, takes 4Gi); repeatable",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set an env var in every role (also how to give secret values again); repeatable",
    )
    parser.add_argument(
        "--workspace",
        metavar="DIR",
        help="build DIR into the roles' original images afresh "
        "(without it, a workspace run reruns the image it ran, by digest)",
    )
    parser.add_argument("--wait", action="store_true", help="stream the output, wait for the end")
    parser.add_argument("--dryrun", action="store_true", help="print what would run; submit none")
    parser.add_argument("--json", action="store_true", help="with --dryrun: print it as JSON")


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.cli.run import submit_dryrun
    from torchrun_core.config import load_config
    from torchrun_core.runner import get_runner

    overrides: RerunOverrides = {
        "scheduler": args.scheduler,
        "cfg": parse_cfg(args.cfg),
        "replicas": {role: _count(n, item) for role, n, item in _pairs(args.replicas, "=")},
        "resources": _resources(args.resource),
        "env": _env(args.env),
        "workspace": args.workspace,
    }
    with get_runner(tracker_config=load_config().tracker_config()) as runner:
        info = runner.dryrun_rerun(args.handle, **overrides)
        return submit_dryrun(runner, info, args)


def _pairs(items: list[str], sep: str) -> list[tuple[str, str, str]]:
    """``ROLE=N`` -> ``(ROLE, N, item)``; ``N`` -> ``("*", N, item)``."""
    out = []
    for item in items:
        key, found, value = item.partition(sep)
        if not found:
            key, value = EVERY_ROLE, item
        out.append((key.strip(), value.strip(), item))
    return out


def _env(items: list[str]) -> dict[str, str]:
    """``["A=1", "B=x=y"]`` -> ``{"A": "1", "B": "x=y"}``; values are kept as given."""
    env = {}
    for item in items:
        key, found, value = item.partition("=")
        if not found or not key:
            raise InvalidInputError(
                f"bad --env {item!r}: expected KEY=VALUE", hint="e.g. --env HF_TOKEN=..."
            )
        env[key] = value
    return env


def _count(text: str, item: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidInputError(
            f"bad --replicas {item!r}: {text!r} is not a whole number",
            hint="write ROLE=N, or N for every role",
        ) from None


def _resources(items: list[str]) -> dict[str, dict[str, int | float | str]]:
    """``["trainer.memMB=4096", "gpu=1"]`` -> ``{"trainer": {"memMB": 4096}, "*": {"gpu": 1}}``.

    Role names may contain dots: the field is what follows the last one.
    """
    out: dict[str, dict[str, int | float | str]] = {}
    for key, value, item in _pairs(items, "="):
        if key == EVERY_ROLE:  # no "=" at all
            raise InvalidInputError(
                f"bad --resource {item!r}: expected [ROLE.]FIELD=VALUE",
                hint="e.g. --resource trainer.memMB=4096",
            )
        role, _, field = key.rpartition(".")
        out.setdefault(role or EVERY_ROLE, {})[field] = _number_or_text(value)
    return out


def _number_or_text(value: str) -> int | float | str:
    """``"512"`` -> 512: a plain number is a count (MiB, cores); ``"4Gi"`` stays a quantity."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value
