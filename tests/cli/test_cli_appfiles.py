"""App files end to end: run, dryrun, validate and schema, each a separate process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from torchrun_core.specs.app import AppDef

from .cli_process import CliRunner, error_lines

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "echo.yaml"
EXAMPLE_SCHEMA = REPO / "examples" / "appdef.schema.json"

SECRETS = {"HF_TOKEN": "hf-value-1234", "MY_KEY": "key-value-5678", "DB_PASSWORD": "pw-value-9"}


def write_app(path: Path, **role: Any) -> Path:
    """A one-role app file (YAML, or JSON for ``.json``) with ``role``'s fields."""
    data = {"name": "files", "roles": [{"name": "main", "entrypoint": "echo", **role}]}
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        path.write_text(json.dumps(data), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def no_runs(cli: CliRunner) -> bool:
    proc = cli("list", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) == []


# -- run ----------------------------------------------------------------------
def test_run_the_example_app_file(cli: CliRunner) -> None:
    proc = cli("run", "--wait", str(EXAMPLE))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert sorted(lines[:-1]) == [
        "greeter/0 hello from replica 0 of 2",
        "greeter/1 hello from replica 1 of 2",
    ]
    assert lines[-1].startswith("local://default/echo-example-")


@pytest.mark.parametrize("name", ["app.yaml", "app.yml", "app.json", "APP.YAML"])
def test_run_yaml_and_json_files_by_relative_path(
    cli: CliRunner, tmp_path: Path, name: str
) -> None:
    write_app(tmp_path / "specs" / name, args=["from", name])
    proc = cli("run", "--wait", f"specs/{name}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == f"from {name}"


def test_run_app_file_under_home(cli: CliRunner, tmp_path: Path) -> None:
    write_app(tmp_path / "home" / "app.yaml", args=["from home"])
    proc = cli("run", "--wait", "~/app.yaml", env={"HOME": str(tmp_path / "home")})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "from home"


def test_paths_inside_an_app_file_are_relative_to_the_cwd(cli: CliRunner, tmp_path: Path) -> None:
    # Like a component's: the file is data, so its image dir is not rebased on the file's dir.
    (tmp_path / "work").mkdir()
    write_app(tmp_path / "specs" / "app.yaml", image="work", entrypoint="pwd")
    proc = cli("run", "--wait", "specs/app.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == str((tmp_path / "work").resolve())


def test_json_app_file_may_name_its_schema(cli: CliRunner, tmp_path: Path) -> None:
    app = write_app(tmp_path / "app.json", args=["named"])
    data = json.loads(app.read_text(encoding="utf-8"))
    app.write_text(json.dumps({"$schema": "appdef.schema.json", **data}), encoding="utf-8")
    proc = cli("run", "--wait", str(app))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "named"


def test_run_app_file_with_arguments_is_an_error(cli: CliRunner) -> None:
    proc = cli("run", str(EXAMPLE), "--msg", "x")
    assert proc.returncode == 2, proc.stderr
    assert error_lines(proc.stderr) == ["error: an app file takes no arguments, got '--msg x'"]
    proc = cli("run", str(EXAMPLE), "--wait")
    assert proc.returncode == 2, proc.stderr
    assert (
        f"hint: options of run itself go before the app file: torchrun-core run --wait {EXAMPLE}"
        in proc.stderr
    )
    assert no_runs(cli)


# -- schema -------------------------------------------------------------------
def test_schema_prints_the_appdef_json_schema(cli: CliRunner) -> None:
    proc = cli("schema")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == AppDef.json_schema()


def test_the_example_schema_file_is_up_to_date(cli: CliRunner) -> None:
    printed = json.loads(cli("schema").stdout)
    assert json.loads(EXAMPLE_SCHEMA.read_text(encoding="utf-8")) == printed, (
        "regenerate it: torchrun-core schema > examples/appdef.schema.json"
    )


@pytest.mark.parametrize("draft", ["Draft7Validator", "Draft202012Validator"])
def test_schema_checks_app_files_as_an_editor_would(draft: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = getattr(jsonschema, draft)(AppDef.json_schema())
    good = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert list(validator.iter_errors(good)) == []
    bad = json.loads(json.dumps(good))
    bad["roles"][0].update(num_replicas=0, bogus=1)
    del bad["roles"][0]["entrypoint"]
    messages = sorted(e.message for e in validator.iter_errors(bad))
    assert len(messages) == 3, messages
    assert any("bogus" in m for m in messages) and any("entrypoint" in m for m in messages)


# -- validate -----------------------------------------------------------------
def test_validate_ok_submits_nothing(cli: CliRunner) -> None:
    proc = cli("validate", str(EXAMPLE))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        f"ok: {EXAMPLE}: app 'echo-example' (1 role(s), 2 replica(s)) "
        "would run on scheduler local\n"
    )
    assert proc.stderr == ""
    proc = cli("validate", "--cfg", "grace_period=1", "utils.echo", "--msg", "hi")
    assert proc.returncode == 0 and proc.stdout.startswith("ok: utils.echo: app 'echo'")
    assert no_runs(cli)


def test_validate_reports_every_field_and_option_problem(cli: CliRunner, tmp_path: Path) -> None:
    app = write_app(tmp_path / "app.yaml", num_replicas=0, bogus=1, env={"1X": "v"})
    proc = cli("validate", "--cfg", "grace_period=soon,nosuch=1", str(app))
    assert proc.returncode == 2, proc.stderr
    errors = error_lines(proc.stderr)
    assert len(errors) == 5, proc.stderr
    for fragment in (
        "roles[0].num_replicas",
        "roles[0].bogus",
        "roles[0].env",
        "local option 'grace_period'",
        "local option 'nosuch': unknown option",
    ):
        assert sum(fragment in e for e in errors) == 1, (fragment, errors)
    hints = [ln for ln in proc.stderr.splitlines() if ln.startswith("hint:")]
    assert any("torchrun-core schema" in h for h in hints)
    assert any("torchrun-core runopts local" in h for h in hints)
    assert proc.stdout == "" and "Traceback" not in proc.stderr


def test_validate_reports_an_unknown_scheduler_and_a_bad_file_together(
    cli: CliRunner, tmp_path: Path
) -> None:
    app = write_app(tmp_path / "app.yaml", num_replicas=-3)
    proc = cli("validate", "-s", "nosuch", str(app))
    assert proc.returncode == 2
    errors = error_lines(proc.stderr)
    assert len(errors) == 2 and "num_replicas" in errors[0], proc.stderr
    assert errors[1] == "error: unknown scheduler 'nosuch'"


def test_validate_runs_the_schedulers_own_checks(cli: CliRunner, tmp_path: Path) -> None:
    proc = cli("validate", "utils.echo", "--image", str(tmp_path / "missing"))
    assert proc.returncode == 2
    assert error_lines(proc.stderr) == [
        f"error: role 'echo': image '{tmp_path / 'missing'}' is not a directory "
        f"({tmp_path / 'missing'})"
    ]
    assert "hint: the local scheduler runs each role in a directory" in proc.stderr


def test_validate_component_problems(cli: CliRunner) -> None:
    proc = cli("validate", "utils.echo", "--num_replicas", "many")
    assert proc.returncode == 2
    assert error_lines(proc.stderr) == [
        "error: component utils.echo: argument --num_replicas: invalid int value: 'many'"
    ]
    proc = cli("validate", "utils.echo", "--num_replicas", "0")
    assert proc.returncode == 2 and "num_replicas" in error_lines(proc.stderr)[0]


def test_validate_json(cli: CliRunner, tmp_path: Path) -> None:
    proc = cli("validate", "--json", str(EXAMPLE))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "ok": True,
        "target": str(EXAMPLE),
        "scheduler": "local",
        "app": "echo-example",
        "problems": [],
    }
    app = write_app(tmp_path / "app.json", num_replicas=0)
    proc = cli("validate", "--json", "--cfg", "nosuch=1", str(app))
    assert proc.returncode == 2
    result = json.loads(proc.stdout)
    assert result["ok"] is False and result["app"] is None
    assert [p["message"].split(":")[-2].strip() for p in result["problems"]] == [
        "roles[0].num_replicas",
        "local option 'nosuch'",
    ]
    assert all(p["hint"] for p in result["problems"])


def test_validate_shows_component_help(cli: CliRunner) -> None:
    proc = cli("validate", "utils.echo", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "--msg MSG" in proc.stdout


# -- dryrun -------------------------------------------------------------------
def test_dryrun_is_run_dryrun(cli: CliRunner, tmp_path: Path) -> None:
    app = write_app(tmp_path / "app.yaml", args=["a", "b"], num_replicas=2)
    outputs = []
    for argv in (["dryrun", str(app)], ["run", "--dryrun", str(app)]):
        proc = cli(*argv, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        app_id = proc.stdout.split(" as ", 1)[1].split()[0]
        outputs.append(proc.stdout.replace(app_id, "<app_id>"))
    assert outputs[0] == outputs[1]
    assert "argv echo a b" in outputs[0] and "main/1:" in outputs[0]
    assert no_runs(cli)


def test_dryrun_redacts_secrets_that_the_app_still_gets(cli: CliRunner, tmp_path: Path) -> None:
    env = {**SECRETS, "PLAIN": "plain-value"}
    script = "echo $HF_TOKEN $MY_KEY $DB_PASSWORD $PLAIN"
    app = write_app(tmp_path / "app.yaml", entrypoint="sh", args=["-c", script], env=env)
    for argv in (["dryrun", str(app)], ["dryrun", "--json", str(app)]):
        proc = cli(*argv)
        assert proc.returncode == 0, proc.stderr
        assert "plain-value" in proc.stdout
        for key, value in SECRETS.items():
            assert value not in proc.stdout, key
    proc = cli("run", "--wait", str(app))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == " ".join([*SECRETS.values(), "plain-value"])
    described = cli("describe", proc.stdout.splitlines()[-1])
    assert "plain-value" in described.stdout
    assert not any(value in described.stdout for value in SECRETS.values())


def test_dryrun_hints_at_its_own_options_after_the_component(cli: CliRunner) -> None:
    proc = cli("dryrun", "utils.echo", "--json")
    assert proc.returncode == 2
    assert (
        "hint: options of dryrun itself go before the component: "
        "torchrun-core dryrun --json utils.echo ..." in proc.stderr
    )
