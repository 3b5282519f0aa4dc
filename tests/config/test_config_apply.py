"""Applying the config to one run: precedence with the command line, component argument
words, and errors that point at the config line a bad value came from."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from torchrun_core import config as config_module
from torchrun_core.config import load_config
from torchrun_core.config.apply import RunSettings, argument_words, given_arguments, wants_help
from torchrun_core.config.settings import Setting, Source
from torchrun_core.errors import (
    ComponentError,
    ConfigError,
    InvalidOptionError,
    UnknownSchedulerError,
)
from torchrun_core.runner import Runner
from torchrun_core.specs.app import AppDef, Role

E = TypeVar("E", bound=Exception)
FILE = Source("project", "/p/.torchrun_core.toml", 7)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    config_module.clear_cache()
    yield
    config_module.clear_cache()


def project(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".torchrun_core.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("hi", ["--msg=hi"]),
        ("-x starts with a dash", ["--msg=-x starts with a dash"]),
        ("", ["--msg="]),
        (3, ["--msg=3"]),
        (0.5, ["--msg=0.5"]),
        (True, ["--msg"]),
        (False, ["--no-msg"]),
        (["a", 1, True], ["--msg=a,1,true"]),
        ([], ["--msg="]),
        ({"A": "1", "B": False}, ["--msg=A=1,B=false"]),
    ],
)
def test_argument_words(value: object, words: list[str]) -> None:
    assert argument_words("msg", Setting(value, FILE)) == words


def test_a_comma_inside_an_array_item_is_an_error_naming_the_line() -> None:
    with pytest.raises(ConfigError, match=r"^/p/.torchrun_core.toml:7: argument 'tags'"):
        argument_words("tags", Setting(["a,b"], FILE))


def test_given_arguments_and_help() -> None:
    args = ["--msg", "x", "--num_replicas=2", "--no-flag", "word", "--", "--image"]
    assert given_arguments(args) == {"msg", "num_replicas", "no-flag", "flag"}
    assert wants_help(["--msg", "x", "-h"]) and wants_help(["--help"])
    assert not wants_help(["--", "--help"])


def test_command_line_over_env_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project(
        tmp_path,
        'scheduler = "elsewhere"\n[schedulers.local]\ngrace_period = 1\nlog_dir = "/f"\n'
        '[components."utils.echo"]\nmsg = "file"\nnum_replicas = 2\nimage = "/img"\n',
    )
    monkeypatch.setenv("TORCHRUN_CORE_SCHEDULER_LOCAL_CFG", "grace_period=2,log_dir=/env")
    settings = load_config(tmp_path).for_run(
        "local", {"log_dir": "/cli"}, "utils.echo", ["--msg", "cli", "--no-such"]
    )
    assert settings.scheduler == Setting("local", Source("cli"))
    assert settings.cfg == {"grace_period": "2", "log_dir": "/cli"}
    assert settings.component_args == [
        "--num_replicas=2",
        "--image=/img",
        "--msg",
        "cli",
        "--no-such",
    ]


def test_app_files_take_no_component_defaults(tmp_path: Path) -> None:
    project(tmp_path, '[components."utils.echo"]\nmsg = "file"\n')
    settings = load_config(tmp_path).for_run(None, {}, None, [])
    assert settings.scheduler.value == "local" and settings.component_args == []


def test_help_gets_no_defaults(tmp_path: Path) -> None:
    project(tmp_path, '[components."utils.echo"]\nnum_replicas = "bad"\n')
    settings = load_config(tmp_path).for_run(None, {}, "utils.echo", ["--help"])
    assert settings.component_args == ["--help"]


def raised(
    kind: type[E],
    settings: RunSettings,
    call: Callable[[Runner], object],
    component: str | None = None,
) -> pytest.ExceptionInfo[E]:
    """What ``call`` raises inside ``settings.explained(component)``."""
    with Runner("t") as runner, pytest.raises(kind) as caught, settings.explained(component):
        call(runner)
    return caught


def run_settings(tmp_path: Path, text: str, component: str | None = None) -> RunSettings:
    project(tmp_path, text)
    return load_config(tmp_path).for_run(None, {}, component, [])


def test_a_bad_option_from_the_config_names_its_line(tmp_path: Path) -> None:
    settings = run_settings(tmp_path, "\n[schedulers.local]\ngrace_period = -1\n")
    app = AppDef(name="a", roles=[Role(name="r", entrypoint="true")])
    caught = raised(
        InvalidOptionError,
        settings,
        lambda runner: runner.dryrun(app, settings.scheduler_name, settings.cfg),
    )
    err = caught.value
    assert err.message.startswith(f"{tmp_path / '.torchrun_core.toml'}:3: local option ")
    assert "'grace_period'" in err.message and err.exit_code == 2
    assert err.context["errors"][0][1].endswith(f"(set at {tmp_path / '.torchrun_core.toml'}:3)")


def test_an_unknown_option_from_env_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHRUN_CORE_SCHEDULER_LOCAL_CFG", "grace=1")
    settings = load_config(tmp_path).for_run(None, {}, None)
    app = AppDef(name="a", roles=[Role(name="r", entrypoint="true")])
    caught = raised(
        InvalidOptionError,
        settings,
        lambda runner: runner.dryrun(app, settings.scheduler_name, settings.cfg),
    )
    assert caught.value.message == (
        "env TORCHRUN_CORE_SCHEDULER_LOCAL_CFG: local option 'grace': unknown option"
    )


def test_a_bad_option_from_the_command_line_is_left_alone(tmp_path: Path) -> None:
    project(tmp_path, "[schedulers.local]\ngrace_period = 1\n")
    settings = load_config(tmp_path).for_run(None, {"grace_period": "x"}, None)
    app = AppDef(name="a", roles=[Role(name="r", entrypoint="true")])
    caught = raised(
        InvalidOptionError,
        settings,
        lambda runner: runner.dryrun(app, settings.scheduler_name, settings.cfg),
    )
    assert caught.value.message.startswith("local option 'grace_period'")


def test_a_bad_component_default_names_its_line(tmp_path: Path) -> None:
    settings = run_settings(
        tmp_path, '[components."utils.echo"]\nmsg = "ok"\nnum_replicas = "two"\n', "utils.echo"
    )
    caught = raised(
        ComponentError,
        settings,
        lambda runner: runner.dryrun_component("utils.echo", settings.component_args),
        "utils.echo",
    )
    err = caught.value
    assert err.message.startswith(f"{tmp_path / '.torchrun_core.toml'}:3: ")
    assert 'components."utils.echo".num_replicas: ' in err.message
    assert "invalid int value: 'two'" in err.message
    assert "usage" not in err.context


def test_an_unknown_component_argument_in_the_config_names_its_line(tmp_path: Path) -> None:
    settings = run_settings(tmp_path, '[components."utils.echo"]\nmesage = "hi"\n', "utils.echo")
    caught = raised(
        ComponentError,
        settings,
        lambda runner: runner.dryrun_component("utils.echo", settings.component_args),
        "utils.echo",
    )
    assert caught.value.message.startswith(f"{tmp_path / '.torchrun_core.toml'}:2: ")
    assert "unrecognized arguments: --mesage=hi" in caught.value.message


def test_the_user_bad_argument_is_left_alone(tmp_path: Path) -> None:
    settings = run_settings(tmp_path, '[components."utils.echo"]\nmsg = "hi"\n', "utils.echo")
    settings.user_args = ["--num_replicas", "x"]
    caught = raised(
        ComponentError,
        settings,
        lambda runner: runner.dryrun_component("utils.echo", settings.component_args),
        "utils.echo",
    )
    assert caught.value.message.startswith("component utils.echo: argument --num_replicas")


def test_an_unknown_configured_scheduler_hints_where_it_is_set(tmp_path: Path) -> None:
    settings = run_settings(tmp_path, 'scheduler = "nope"\n')
    caught = raised(
        UnknownSchedulerError, settings, lambda runner: runner.scheduler(settings.scheduler_name)
    )
    assert caught.value.hint is not None
    assert f"the scheduler is set at {tmp_path / '.torchrun_core.toml'}:1" in caught.value.hint
