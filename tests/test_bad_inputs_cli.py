"""The bad-input corpus, on the command line: each case is one real ``torchrun-core`` process.

Every bad input must end with exactly one ``error: ...`` line followed by
at least one ``hint: ...`` line (a usage block may come first), the
documented exit code (2 for bad input), no traceback, and no hang: each run
has a timeout.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from bad_inputs import FILES, write_files

UNKNOWN = "local://default/never-submitted-1"
LONG_ID = f"local://default/{'a' * 300}"  # longer than a file name may be
HUGE = "99999999999999999999999"  # past SQLite's and C's 64-bit integers


def cursor(key: list[object], sort: str = "newest") -> str:
    """A cursor as ``list`` prints it, holding ``key`` (to forge out-of-range ones)."""
    return base64.urlsafe_b64encode(json.dumps([1, sort, key]).encode()).decode().rstrip("=")


TIMEOUT_S = 60  # far above the ~0.3 s each takes: only a hang reaches it


@dataclass(frozen=True)
class Case:
    """One bad command line: what to run, the exit code, and a fragment of the error line."""

    id: str
    argv: tuple[str, ...]
    fragment: str
    code: int = 2
    with_config: bool = False  # write the bad .torchrun_core.toml into the cwd
    corrupt_store: bool = False  # the run store is not a database (exit 1: nothing runs)


def case(id: str, argv: str | tuple[str, ...], fragment: str, **kw: bool | int) -> Case:
    return Case(id, tuple(argv.split()) if isinstance(argv, str) else argv, fragment, **kw)


CASES = [
    # names: scheduler, component, command, options
    case("unknown-scheduler", "run -s nosuch utils.echo", "unknown scheduler 'nosuch'"),
    case("unknown-scheduler-dryrun", "dryrun -s nosuch ok.yaml", "unknown scheduler 'nosuch'"),
    case("unknown-scheduler-runopts", "runopts nosuch", "unknown scheduler 'nosuch'"),
    case("unknown-scheduler-in-handle", "status nosuch://default/x", "unknown scheduler"),
    case("unknown-component", "run nope.missing", "unknown component 'nope.missing'"),
    case("unknown-command", "launch utils.echo", "invalid choice: 'launch'"),
    case("unknown-run-option", "run --detach utils.echo", "unrecognized arguments: --detach"),
    case("unknown-scheduler-option", "run --cfg colour=red utils.echo", "'colour': unknown"),
    case("bad-option-value", "run --cfg grace_period=soon utils.echo", "'grace_period'"),
    case("negative-option-value", "run --cfg grace_period=-1 utils.echo", "greater than or eq"),
    case("cfg-without-equals", "run --cfg grace_period utils.echo", "bad --cfg 'grace_period'"),
    case("cfg-without-equals-validate", "validate --cfg x ok.yaml", "bad --cfg 'x'"),
    # component arguments
    case("missing-component-argument", "run components.py:needs_name", "required: --name"),
    case("unknown-component-argument", "run utils.echo --colour red", "unrecognized arguments"),
    case("component-argument-without-value", "run utils.echo --msg", "expected one argument"),
    case("wrong-type", "run utils.echo --num_replicas many", "invalid int value: 'many'"),
    case("negative-replicas", "run utils.echo --num_replicas -1", "num_replicas"),
    case("zero-replicas-dryrun", "dryrun utils.sh --num_replicas 0 true", "num_replicas"),
    case("missing-image-dir", "run utils.echo --image no_such_dir", "is not a directory"),
    # handles and apps
    case("malformed-handle", "status local:/default/x", "malformed app handle"),
    case("malformed-handle-cancel", "cancel not-a-handle", "malformed app handle"),
    case("unknown-app-status", f"status {UNKNOWN}", f"no app {UNKNOWN}"),
    case("unknown-app-cancel", f"cancel {UNKNOWN}", f"no app {UNKNOWN}"),
    case("unknown-app-log", f"log {UNKNOWN}", f"no app {UNKNOWN}"),
    case("unknown-app-log-follow", f"log -f {UNKNOWN}", f"no app {UNKNOWN}"),
    case("unknown-app-wait", f"wait --timeout 30 {UNKNOWN}", f"no app {UNKNOWN}"),
    case("unknown-app-describe", f"describe {UNKNOWN}", f"no app {UNKNOWN}"),
    case("bad-log-replica", f"log {UNKNOWN}/role/x", "replica 'x'"),
    case("missing-handle", "status", "required: HANDLE"),
    case("bad-time", f"log --since yesterday {UNKNOWN}", "cannot read time 'yesterday'"),
    case("bad-state", f"wait --state DONE {UNKNOWN}", "unknown app state 'DONE'"),
    case("bad-timeout", f"wait --timeout soon {UNKNOWN}", "invalid float value: 'soon'"),
    # app files
    case("app-file-bad-field", "run bad_field.yaml", "roles[0].colour"),
    case("app-file-bad-field-validate", "validate bad_field.yaml", "roles[0].colour"),
    case("app-file-negative-replicas", "run negative_replicas.yaml", "roles[0].num_replicas"),
    case("app-file-wrong-type", "run wrong_type.json", "roles[0].num_replicas"),
    case("app-file-yaml-syntax", "run yaml_syntax.yaml", "yaml_syntax.yaml:4:1: not valid YAML"),
    case("app-file-json-syntax", "run json_syntax.json", "not valid JSON"),
    case("app-file-empty", "run empty.yaml", "'empty.yaml' is empty"),
    case("app-file-only-comments", "dryrun only_comments.yml", "is empty"),
    case("app-file-not-a-mapping", "run a_list.yaml", "expected a mapping"),
    case("app-file-missing", "run missing.yaml", "cannot read app file 'missing.yaml'"),
    case("app-file-with-arguments", "run ok.yaml --msg hi", "takes no arguments"),
    # component files
    case("component-file-missing", "run missing.py:fn", "'missing.py' not found"),
    case("component-file-syntax-error", "run syntax_error.py:fn", "syntax_error.py:1"),
    case("component-file-raises-on-import", "run raises_on_import.py:fn", "configured wrongly"),
    case("component-file-no-function", "run components.py:nosuch", "no function 'nosuch'"),
    case("component-file-without-function", "run components.py", "names a file but no function"),
    case("malformed-component", "run components.py:unannotated", "no type annotation"),
    # upper bounds (docs/errors.md, "Limits")
    case("huge-replicas", f"run utils.echo --num_replicas {HUGE}", "less than or equal to 10000"),
    case("too-many-replicas-dryrun", "dryrun utils.sh --num_replicas 10001 true", "num_replicas"),
    case("app-file-too-many-replicas", "run too_many_replicas.yaml", "12000 replicas in all"),
    case("infinite-grace-period", "run --cfg grace_period=1e309 utils.echo", "finite number"),
    case("nan-grace-period", "dryrun --cfg grace_period=nan utils.echo", "finite number"),
    case("huge-grace-period", "run --cfg grace_period=86401 utils.echo", "less than or equal"),
    case(
        "huge-grace-period-docker",
        f"dryrun -s docker --cfg grace_period={HUGE} utils.echo --image x",
        "'grace_period'",
    ),
    case("huge-cancel-grace-period", f"cancel --grace-period 1e309 {UNKNOWN}", "grace period"),
    case("huge-list-limit", f"list --limit {HUGE}", f"invalid --limit '{HUGE}'"),
    case("huge-events-after", f"events --after {HUGE} {UNKNOWN}", "after must be 0 to"),
    case("huge-cursor-rowid", ("list", "--cursor", cursor([1.0, int(HUGE)])), "invalid cursor"),
    case("huge-cursor-time", ("list", "--cursor", cursor([int(HUGE), 5])), "invalid cursor"),
    case("unknown-list-state", "list --state BOGUS", "unknown app state 'BOGUS'"),
    case("nan-wait-timeout", f"wait --timeout nan {UNKNOWN}", "timeout must be"),
    case("negative-wait-timeout", f"wait --timeout -1 {UNKNOWN}", "timeout must be"),
    case("nan-events-timeout", f"events -f --timeout nan {UNKNOWN}", "timeout must be"),
    case("infinite-list-since", "list --since 1e400", "cannot read time '1e400'"),
    # an app id longer than a file name: not found, never "File name too long"
    *(
        case(f"long-app-id-{command.split()[0]}", f"{command} {LONG_ID}", f"no app {LONG_ID}")
        for command in ("status", "log", "cancel", "wait --timeout 30", "describe", "delete")
    ),
    case("long-app-id-events", ("events", LONG_ID), f"no app {LONG_ID}"),
    # config files
    case("config-bad-key", "run --dryrun utils.echo", "no_such_setting", with_config=True),
    case("config-bad-key-show", "config show", "no_such_setting", with_config=True),
    # a run store that cannot record a run: nothing is launched (docs/errors.md)
    *(
        case(f"corrupt-store-{id}", argv, fragment, code=1, corrupt_store=True)
        for id, argv, fragment in (
            ("run", "run utils.echo", "echo was not launched: its run could not be recorded"),
            ("run-app-file", "run ok.yaml", "app was not launched: its run could not be recorded"),
            ("status", f"status {UNKNOWN}", "file is not a database"),
            ("delete", f"delete {UNKNOWN}", "file is not a database"),
        )
    ),
]


def check_error_output(proc: subprocess.CompletedProcess[str], fragment: str) -> None:
    """One ``error:`` line holding ``fragment``, then only ``hint:`` lines; usage before it."""
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    lines = proc.stderr.splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    first = errors[0]
    assert fragment in lines[first], proc.stderr
    hints = lines[first + 1 :]
    assert hints and all(h.startswith("hint: ") and h[6:].strip() for h in hints), proc.stderr
    before = lines[:first]
    assert not before or before[0].startswith("usage: "), proc.stderr


def run_case(directory: Path, argv: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        # Keep the user's own config file out of the test.
        "TORCHRUN_CORE_USER_CONFIG_DIR": str(directory.parent / "user-config"),
    }
    return subprocess.run(
        [sys.executable, "-m", "torchrun_core", *argv],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,  # no hang: a case that blocks fails here
        cwd=directory,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("bad", CASES, ids=lambda c: c.id)
def test_bad_input_gives_one_error_line_with_a_hint(bad: Case, tmp_path: Path) -> None:
    work = write_files(tmp_path / "work")
    if bad.with_config:
        write_files(work, {".torchrun_core.toml": FILES[".torchrun_core.toml"]})
    if bad.corrupt_store:
        (tmp_path / "state").mkdir(exist_ok=True)
        (tmp_path / "state" / "runs.sqlite").write_bytes(b"not a database, " * 512)
    proc = run_case(work, bad.argv)
    assert proc.returncode == bad.code, proc.stderr
    check_error_output(proc, bad.fragment)
    assert not (tmp_path / "state" / "local").exists() or not any(
        (tmp_path / "state" / "local").rglob("state.json")
    ), "a bad input submitted an app"
