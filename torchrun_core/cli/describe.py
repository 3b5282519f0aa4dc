"""Show an app's spec (secrets redacted), run options, status and state history."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from torchrun_core.cli.output import add_json_flag, format_table, format_time, print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("handle", metavar="HANDLE", help="scheduler://session/app_id")
    add_json_flag(parser)


def _indent(text: str, prefix: str = "  ") -> str:
    return "".join(prefix + line if line.strip() else line for line in text.splitlines(True))


def format_record(record: Any, events: list[Any]) -> str:
    """The record as text: header fields, the app spec as YAML, status and events."""
    import yaml

    from torchrun_core.cli.app_view import redacted_app_dict
    from torchrun_core.cli.status_view import format_status

    cfg = ", ".join(f"{k}={v}" for k, v in (record.cfg or {}).items()) or "-"
    out = [
        f"handle:     {record.handle}",
        f"scheduler:  {record.scheduler}",
        f"state:      {record.state.value}",
        f"created:    {format_time(record.created_at)}",
        f"parent run: {record.parent_run_id or '-'}",
        f"cfg:        {cfg}",
    ]
    if getattr(record, "stale", None):
        out.append(f"stale:      {record.stale}")
    if record.app is not None:
        spec = yaml.safe_dump(redacted_app_dict(record.app), sort_keys=False)
        out += ["app:", _indent(spec).rstrip("\n")]
    if record.status is not None:
        out += ["status:", _indent(format_status(record.status, str(record.handle))).rstrip("\n")]
    if events:
        rows = [(e.seq, format_time(e.at), e.state, e.message or None) for e in events]
        out += ["events:", _indent(format_table(("SEQ", "AT", "STATE", "MESSAGE"), rows))]
    return "\n".join(out) + "\n"


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.cli.app_view import record_json
    from torchrun_core.runner import get_runner

    with get_runner() as runner:
        record = runner.describe(args.handle)
        events = list(runner.events(args.handle))
    if args.json:
        print_json({**record_json(record), "events": events})
    else:
        sys.stdout.write(format_record(record, events))
    if record.stale:  # the record stands; say once, on stderr, why its state may be old
        sys.stderr.write(f"warning: the state shown is the recorded one: {record.stale}\n")
    return 0
