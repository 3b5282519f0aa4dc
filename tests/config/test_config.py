"""Loading the configuration: which files, in which order, merged key by key, with sources."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from torchrun_core import config as config_module
from torchrun_core.config import load_config
from torchrun_core.config.settings import Setting, Source
from torchrun_core.errors import ConfigError


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    config_module.clear_cache()
    yield
    config_module.clear_cache()


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    """The user config dir conftest points TORCHRUN_CORE_USER_CONFIG_DIR at, created."""
    path = Path(os.environ["TORCHRUN_CORE_USER_CONFIG_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def isolated(**extra: str) -> dict[str, str]:
    """This test's environment (its own user config dir) plus ``extra``."""
    return {**os.environ, **extra}


def values(settings: dict[str, Setting]) -> dict[str, object]:
    return {k: v.value for k, v in settings.items()}


def test_without_any_file_the_defaults_apply(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config.project is None and config.user is None
    assert config.scheduler().value == "local"
    assert config.scheduler().source == Source("default")
    assert config.scheduler_options("local") == {}
    assert config.component_defaults("utils.echo") == {}
    assert config.tracker_config() is None


def test_project_file_is_found_walking_up_from_a_subdirectory(tmp_path: Path) -> None:
    project = write(tmp_path / "proj" / ".torchrun_core.toml", 'scheduler = "x"\n')
    deep = tmp_path / "proj" / "a" / "b"
    deep.mkdir(parents=True)
    config = load_config(deep)
    assert config.project is not None and config.project.path == project
    assert config.scheduler().value == "x"
    assert config.scheduler().source == Source("project", str(project), 1)


def test_the_nearest_project_file_wins_and_farther_ones_are_not_read(tmp_path: Path) -> None:
    write(tmp_path / "torchrun_core.toml", 'scheduler = "far"\n[schedulers.local]\nlog_dir = "x"\n')
    near = write(tmp_path / "sub" / "torchrun_core.toml", 'scheduler = "near"\n')
    config = load_config(tmp_path / "sub")
    assert config.project is not None and config.project.path == near
    assert config.scheduler().value == "near"
    assert config.scheduler_options("local") == {}


def test_in_one_directory_the_dot_file_wins_then_the_plain_one_then_pyproject(
    tmp_path: Path,
) -> None:
    write(tmp_path / "pyproject.toml", '[tool.torchrun_core]\nscheduler = "pyproject"\n')
    assert load_config(tmp_path).scheduler().value == "pyproject"
    config_module.clear_cache()
    write(tmp_path / "torchrun_core.toml", 'scheduler = "plain"\n')
    assert load_config(tmp_path).scheduler().value == "plain"
    config_module.clear_cache()
    write(tmp_path / ".torchrun_core.toml", 'scheduler = "dot"\n')
    assert load_config(tmp_path).scheduler().value == "dot"


def test_pyproject_table_with_its_lines(tmp_path: Path) -> None:
    pyproject = write(
        tmp_path / "pyproject.toml",
        '[project]\nname = "x"\n\n[tool.torchrun_core]\nscheduler = "local"\n\n'
        "[tool.torchrun_core.schedulers.local]\ngrace_period = 1.5\n",
    )
    config = load_config(tmp_path)
    options = config.scheduler_options("local")
    assert values(options) == {"grace_period": 1.5}
    assert options["grace_period"].source == Source("project", str(pyproject), 8)


def test_pyproject_without_the_table_does_not_count_and_the_walk_goes_on(tmp_path: Path) -> None:
    parent = write(tmp_path / ".torchrun_core.toml", 'scheduler = "parent"\n')
    write(tmp_path / "sub" / "pyproject.toml", "[tool.ruff]\nline-length = 100\n")
    write(tmp_path / "sub2" / "pyproject.toml", "[tool]\nother = 1\n")
    for sub in ("sub", "sub2"):
        config = load_config(tmp_path / sub)
        assert config.project is not None and config.project.path == parent, sub


def test_user_and_project_files_merge_per_key(tmp_path: Path, user_dir: Path) -> None:
    user = write(
        user_dir / "config.toml",
        '[schedulers.local]\ngrace_period = 9\nlog_dir = "/user/logs"\n'
        '[components."utils.echo"]\nmsg = "user"\nnum_replicas = 2\n',
    )
    project = write(
        tmp_path / "p" / ".torchrun_core.toml",
        '[schedulers.local]\ngrace_period = 1\n[components."utils.echo"]\nmsg = "project"\n',
    )
    config = load_config(tmp_path / "p")
    options = config.scheduler_options("local")
    assert values(options) == {"grace_period": 1, "log_dir": "/user/logs"}
    assert options["grace_period"].source.path == str(project)
    assert options["log_dir"].source == Source("user", str(user), 3)
    defaults = config.component_defaults("utils.echo")
    assert values(defaults) == {"msg": "project", "num_replicas": 2}


def test_env_overrides_the_files_per_key(tmp_path: Path, user_dir: Path) -> None:
    write(user_dir / "config.toml", 'scheduler = "user"\n[schedulers.local]\ngrace_period = 9\n')
    write(tmp_path / ".torchrun_core.toml", '[schedulers.local]\nlog_dir = "/p"\n')
    env = isolated(
        TORCHRUN_CORE_SCHEDULER="fromenv", TORCHRUN_CORE_SCHEDULER_LOCAL_CFG="grace_period=3"
    )
    config = load_config(tmp_path, env)
    assert config.scheduler().value == "fromenv"
    assert config.scheduler().source == Source("env", env="TORCHRUN_CORE_SCHEDULER")
    options = config.scheduler_options("local")
    assert values(options) == {"grace_period": "3", "log_dir": "/p"}
    assert options["grace_period"].source == Source("env", env="TORCHRUN_CORE_SCHEDULER_LOCAL_CFG")
    assert config.scheduler("cli").value == "cli"  # -s beats everything


def test_env_scheduler_name_is_upper_case_with_underscores(tmp_path: Path) -> None:
    write(tmp_path / ".torchrun_core.toml", '[schedulers.my-sched]\na = "file"\nb = "file"\n')
    env = isolated(TORCHRUN_CORE_SCHEDULER_MY_SCHED_CFG="a=env,c=x,y")
    config = load_config(tmp_path, env)
    assert values(config.scheduler_options("my-sched")) == {
        "a": "env",
        "b": "file",
        "c": "x,y",
    }
    assert ("schedulers", "my-sched", "a") in config.settings()


def test_malformed_env_options_name_the_variable(tmp_path: Path) -> None:
    env = isolated(TORCHRUN_CORE_SCHEDULER_LOCAL_CFG="grace_period")
    with pytest.raises(ConfigError, match="TORCHRUN_CORE_SCHEDULER_LOCAL_CFG=") as caught:
        load_config(tmp_path, env).scheduler_options("local")
    assert caught.value.exit_code == 2 and caught.value.hint


def test_explicit_config_file_replaces_the_project_search(tmp_path: Path) -> None:
    write(tmp_path / ".torchrun_core.toml", 'scheduler = "walked"\n')
    explicit = write(tmp_path / "elsewhere" / "my.toml", 'scheduler = "explicit"\n')
    config = load_config(tmp_path, isolated(TORCHRUN_CORE_CONFIG=str(explicit)))
    assert config.scheduler().value == "explicit"
    assert config.project is not None and config.project.path == explicit


def test_explicit_config_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"TORCHRUN_CORE_CONFIG names .*nope\.toml"):
        load_config(tmp_path, isolated(TORCHRUN_CORE_CONFIG=str(tmp_path / "nope.toml")))


def test_trackers_from_files_and_env(tmp_path: Path, user_dir: Path) -> None:
    write(
        user_dir / "config.toml",
        '[trackers.file]\nconfig = "/user/runs"\n[trackers.mlflow]\nconfig = "http://m"\n',
    )
    write(tmp_path / ".torchrun_core.toml", "[trackers.mlflow]\nenabled = false\n[trackers.x]\n")
    env = isolated()
    assert load_config(tmp_path, env).tracker_config() == {"file": "/user/runs", "x": None}
    env["TORCHRUN_CORE_TRACKER_FILE_CONFIG"] = "/env/runs"
    assert load_config(tmp_path, env).tracker_config() == {"file": "/env/runs", "x": None}
    env["TORCHRUN_CORE_TRACKERS"] = "mlflow,other"
    assert load_config(tmp_path, env).tracker_config() == {"mlflow": "http://m", "other": None}
    env["TORCHRUN_CORE_TRACKERS"] = ""
    assert load_config(tmp_path, env).tracker_config() == {}


def test_files_are_read_once_per_process(tmp_path: Path) -> None:
    path = write(tmp_path / ".torchrun_core.toml", 'scheduler = "first"\n')
    assert load_config(tmp_path).scheduler().value == "first"
    path.write_text('scheduler = "second"\n')
    assert load_config(tmp_path).scheduler().value == "first"
    config_module.clear_cache()
    assert load_config(tmp_path).scheduler().value == "second"
