"""The config end to end: real `torchrun-core` processes running real local apps.

Each test has its own project dir (the cwd), user config dir and state dir.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .cli_process import CliRunner, error_lines


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


@pytest.fixture
def user_config(tmp_path: Path) -> Path:
    """The user config file (in the dir conftest points TORCHRUN_CORE_USER_CONFIG_DIR at)."""
    path = Path(os.environ["TORCHRUN_CORE_USER_CONFIG_DIR"]) / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def echo_output(cli: CliRunner, cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = cli("run", "--wait", *args, cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()[0]


def recorded_cfg(
    cli: CliRunner, cwd: Path, *args: str, env: dict[str, str] | None = None
) -> dict[str, object]:
    proc = cli("run", *args, cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stderr
    described = cli("describe", "--json", proc.stdout.splitlines()[-1], cwd=cwd)
    assert described.returncode == 0, described.stderr
    cfg: dict[str, object] = json.loads(described.stdout)["cfg"]
    return cfg


def test_component_defaults_from_the_project_config_and_the_cli_overrides_them(
    cli: CliRunner, project: Path
) -> None:
    (project / ".torchrun_core.toml").write_text('[components."utils.echo"]\nmsg = "from config"\n')
    assert echo_output(cli, project, "utils.echo") == "from config"
    assert echo_output(cli, project, "utils.echo", "--msg", "from cli") == "from cli"


def test_scheduler_options_precedence_cli_env_project_user(
    cli: CliRunner, project: Path, user_config: Path
) -> None:
    user_config.write_text('[schedulers.local]\ngrace_period = 1\nlog_dir = "/tmp/u"\n')
    assert recorded_cfg(cli, project, "utils.echo")["grace_period"] == 1.0
    (project / "torchrun_core.toml").write_text("[schedulers.local]\ngrace_period = 2\n")
    cfg = recorded_cfg(cli, project, "utils.echo")
    assert cfg["grace_period"] == 2.0 and cfg["log_dir"] == "/tmp/u"  # merged per key
    env = {"TORCHRUN_CORE_SCHEDULER_LOCAL_CFG": "grace_period=3"}
    assert recorded_cfg(cli, project, "utils.echo", env=env)["grace_period"] == 3.0
    cfg = recorded_cfg(cli, project, "--cfg", "grace_period=4", "utils.echo", env=env)
    assert cfg["grace_period"] == 4.0 and cfg["log_dir"] == "/tmp/u"


def test_pyproject_table_found_from_a_subdirectory(cli: CliRunner, project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n\n[tool.torchrun_core.components."utils.echo"]\nmsg = "pp"\n'
    )
    deep = project / "src" / "pkg"
    deep.mkdir(parents=True)
    assert echo_output(cli, deep, "utils.echo") == "pp"


def test_default_scheduler_from_config_and_s_overrides_it(cli: CliRunner, project: Path) -> None:
    (project / ".torchrun_core.toml").write_text('\nscheduler = "nowhere"\n')
    proc = cli("run", "utils.echo", cwd=project)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert error_lines(proc.stderr) == ["error: unknown scheduler 'nowhere'"]
    assert f"set at {project / '.torchrun_core.toml'}:2" in proc.stderr
    assert echo_output(cli, project, "-s", "local", "utils.echo", "--msg", "x") == "x"
    env = {"TORCHRUN_CORE_SCHEDULER": "local"}
    assert echo_output(cli, project, "utils.echo", "--msg", "y", env=env) == "y"


def test_trackers_from_config_reach_the_job(cli: CliRunner, project: Path) -> None:
    (project / ".torchrun_core.toml").write_text('[trackers.file]\nconfig = "/tmp/runs"\n')
    script = "echo $TORCHRUN_CORE_TRACKERS $TORCHRUN_CORE_TRACKER_FILE_CONFIG"
    assert echo_output(cli, project, "utils.sh", script) == "file /tmp/runs"
    env = {"TORCHRUN_CORE_TRACKER_FILE_CONFIG": "/env/runs"}
    assert echo_output(cli, project, "utils.sh", script, env=env) == "file /env/runs"


def test_config_show_prints_each_value_with_its_source(
    cli: CliRunner, project: Path, user_config: Path
) -> None:
    user_config.write_text('[schedulers.local]\nlog_dir = "/tmp/u"\n[trackers.file]\n')
    (project / ".torchrun_core.toml").write_text(
        '[schedulers.local]\ngrace_period = 2\n\n[components."utils.echo"]\nmsg = "hi"\n'
    )
    env = {"TORCHRUN_CORE_TRACKER_FILE_CONFIG": "/env/runs"}
    proc = cli("config", "show", cwd=project, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = {
        line.split("#")[0].strip(): line.rsplit("# ", 1)[1]
        for line in proc.stdout.splitlines()
        if " = " in line
    }
    project_file = project / ".torchrun_core.toml"
    assert lines['scheduler = "local"'] == "default"
    assert lines["schedulers.local.grace_period = 2"] == f"{project_file}:2"
    assert lines['schedulers.local.log_dir = "/tmp/u"'] == f"{user_config}:2"
    assert lines['components."utils.echo".msg = "hi"'] == f"{project_file}:5"
    assert lines["trackers.file.enabled = true"] == f"{user_config}:3"
    assert lines['trackers.file.config = "/env/runs"'] == "env TORCHRUN_CORE_TRACKER_FILE_CONFIG"
    assert f"# project config: {project_file}" in proc.stdout

    shown = json.loads(cli("config", "show", "--json", cwd=project, env=env).stdout)
    assert shown["files"] == {
        "project": str(project_file),
        "user": str(user_config),
        "user_searched": str(user_config),
    }
    by_key = {s["key"]: s for s in shown["settings"]}
    assert by_key["schedulers.local.grace_period"]["value"] == 2
    assert by_key["schedulers.local.grace_period"]["source"] == {
        "kind": "project",
        "path": str(project_file),
        "line": 2,
    }
    assert by_key['components."utils.echo".msg']["keys"] == ["components", "utils.echo", "msg"]
    assert by_key["trackers.file.config"]["source"] == {
        "kind": "env",
        "env": "TORCHRUN_CORE_TRACKER_FILE_CONFIG",
    }


def test_config_show_without_files(cli: CliRunner, project: Path) -> None:
    proc = cli("config", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "# project config: (none found)" in proc.stdout
    assert "(not found)" in proc.stdout
    assert "schedulers.local.grace_period = 5.0" in proc.stdout


def test_config_show_notes_a_scheduler_that_is_not_installed(cli: CliRunner, project: Path) -> None:
    (project / ".torchrun_core.toml").write_text('[schedulers.elsewhere]\nqueue = "q"\n')
    proc = cli("config", "show", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "# note: scheduler 'elsewhere' is not installed" in proc.stdout
    assert 'schedulers.elsewhere.queue = "q"' in proc.stdout


@pytest.mark.parametrize(
    ("text", "line", "error"),
    [
        ('scheduler = "local"\nschedulr = "x"\n', 2, "unknown key 'schedulr'"),
        ("scheduler = 1\n", 1, "scheduler: expected a string, got integer 1"),
        ("[trackers.file]\n\n[trackers.file.extra]\n", 3, "unknown key 'trackers.file.extra'"),
        ('scheduler = "local"\n[schedulers.local\n', 2, "invalid TOML"),
        ("[schedulers.local]\ngrace_period = -1\n", 2, "local option 'grace_period'"),
        ("[schedulers.local]\ngrace = 1\n", 2, "local option 'grace': unknown option"),
    ],
)
@pytest.mark.parametrize(
    "command", [("run", "utils.echo"), ("config", "show"), ("validate", "utils.echo")]
)
def test_bad_config_is_an_error_line_with_file_line_and_key(
    cli: CliRunner, project: Path, text: str, line: int, error: str, command: tuple[str, ...]
) -> None:
    (project / ".torchrun_core.toml").write_text(text)
    proc = cli(*command, cwd=project)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = error_lines(proc.stderr)
    assert len(errors) == 1 and error in errors[0], proc.stderr
    # Compiler style (file:line: message); validate lists options as "... (set at file:line)".
    where = f"{project / '.torchrun_core.toml'}:{line}"
    assert errors[0].startswith(f"error: {where}:") or errors[0].endswith(f"(set at {where})")
    assert "hint: " in proc.stderr


def test_bad_component_default_names_the_file_line_and_key(cli: CliRunner, project: Path) -> None:
    (project / ".torchrun_core.toml").write_text(
        '[components."utils.echo"]\n\nnum_replicas = "two"\n'
    )
    proc = cli("run", "utils.echo", cwd=project)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert error_lines(proc.stderr) == [
        f'error: {project / ".torchrun_core.toml"}:3: components."utils.echo".num_replicas: '
        "invalid int value: 'two'"
    ]
    # Given on the command line, the configured default is not used at all.
    assert echo_output(cli, project, "utils.echo", "--num_replicas", "1", "--msg", "ok") == "ok"


def test_component_help_reads_no_config(cli: CliRunner, project: Path) -> None:
    (project / ".torchrun_core.toml").write_text("not toml at all\n")
    proc = cli("run", "utils.echo", "--help", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "--msg" in proc.stdout


def test_explicit_config_file_from_env(cli: CliRunner, project: Path, tmp_path: Path) -> None:
    (project / ".torchrun_core.toml").write_text('[components."utils.echo"]\nmsg = "walked"\n')
    explicit = tmp_path / "ci.toml"
    explicit.write_text('[components."utils.echo"]\nmsg = "explicit"\n')
    env = {"TORCHRUN_CORE_CONFIG": str(explicit)}
    assert echo_output(cli, project, "utils.echo", env=env) == "explicit"
    proc = cli("run", "utils.echo", cwd=project, env={"TORCHRUN_CORE_CONFIG": str(tmp_path / "no")})
    assert proc.returncode == 2
    assert error_lines(proc.stderr)[0].startswith("error: TORCHRUN_CORE_CONFIG names ")


def test_dryrun_and_validate_apply_the_config_too(cli: CliRunner, project: Path) -> None:
    (project / ".torchrun_core.toml").write_text(
        '[components."utils.echo"]\nmsg = "configured"\n[trackers.file]\nconfig = "/tmp/runs"\n'
    )
    proc = cli("dryrun", "--json", "utils.echo", cwd=project)
    assert proc.returncode == 0, proc.stderr
    role = json.loads(proc.stdout)["app"]["roles"][0]
    assert role["args"] == ["configured"]
    assert role["env"]["TORCHRUN_CORE_TRACKERS"] == "file"
    assert role["env"]["TORCHRUN_CORE_TRACKER_FILE_CONFIG"] == "/tmp/runs"
    proc = cli("validate", "--json", "utils.echo", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["scheduler"] == "local"
