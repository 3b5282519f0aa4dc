"""A bad config file is a ConfigError naming the file, the line and the key, with a hint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from torchrun_core import config as config_module
from torchrun_core.config import load_config
from torchrun_core.errors import ConfigError


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    config_module.clear_cache()
    yield
    config_module.clear_cache()


def error_for(tmp_path: Path, text: str, name: str = ".torchrun_core.toml") -> ConfigError:
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.exit_code == 2
    assert "\n" not in caught.value.message
    return caught.value


def test_unknown_top_level_key(tmp_path: Path) -> None:
    err = error_for(tmp_path, '# settings\n\nschedulr = "local"\n')
    assert err.message == f"{tmp_path / '.torchrun_core.toml'}:3: unknown key 'schedulr'"
    assert err.hint is not None
    assert err.hint.startswith("did you mean 'scheduler'?")
    assert "scheduler, schedulers, components, trackers" in err.hint
    assert err.context["line"] == 3 and err.context["key"] == "schedulr"


def test_unknown_key_in_a_tracker_table_lists_that_tables_keys(tmp_path: Path) -> None:
    err = error_for(tmp_path, '[trackers.file]\nconfig = "/x"\ncfg = "/y"\n')
    assert err.message.endswith(":3: unknown key 'trackers.file.cfg'")
    assert err.hint is not None and "valid keys in [trackers.file]: config, enabled" in err.hint


def test_unknown_key_in_pyproject_names_the_table_there(tmp_path: Path) -> None:
    err = error_for(
        tmp_path,
        '[project]\nname = "x"\n[tool.torchrun_core]\nscheduler = "local"\nextra = 1\n',
        "pyproject.toml",
    )
    assert err.message == f"{tmp_path / 'pyproject.toml'}:5: unknown key 'extra'"
    assert err.hint is not None and "[tool.torchrun_core]" in err.hint


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("scheduler = 3\n", 1, "scheduler: expected a string, got integer 3"),
        ("schedulers = 1\n", 1, "schedulers: expected a table, got integer 1"),
        ("[schedulers]\nlocal = [1]\n", 2, "schedulers.local: expected a table, got array [1]"),
        ("\n[trackers.file]\nconfig = 1\n", 3, "trackers.file.config: expected a string"),
        (
            "[trackers.file]\nenabled = 'no'\n",
            2,
            'enabled: expected true or false, got string "no"',
        ),
        ("trackers = {file = 3}\n", 1, "trackers.file: expected a table, got integer 3"),
        (
            '[components."utils.echo"]\nmsg = "ok"\nwhen = 1979-05-27\n',
            3,
            'components."utils.echo".when: expected a string, number, boolean, or an array or '
            "table of these, got date 1979-05-27",
        ),
        (
            '[components."utils.echo"]\nenv = {A = {B = 1}}\n',
            2,
            'components."utils.echo".env: expected a string, number',
        ),
    ],
)
def test_bad_types_name_the_key_and_its_line(
    tmp_path: Path, text: str, where: int, message: str
) -> None:
    err = error_for(tmp_path, text)
    assert err.message.startswith(f"{tmp_path / '.torchrun_core.toml'}:{where}: "), err.message
    assert message in err.message


def test_the_first_problem_in_the_file_is_reported(tmp_path: Path) -> None:
    err = error_for(tmp_path, 'scheduler = "x"\n[trackers.b]\nzzz = 1\n[trackers.a]\nyyy = 2\n')
    assert ":3: unknown key 'trackers.b.zzz'" in err.message


def test_toml_syntax_errors_give_line_and_column(tmp_path: Path) -> None:
    err = error_for(tmp_path, 'scheduler = "local"\n[x]\n[x]\n')
    assert err.message.startswith(f"{tmp_path / '.torchrun_core.toml'}:3:")
    assert "invalid TOML" in err.message and "(at line" not in err.message
    assert err.hint is not None and "toml.io" in err.hint


def test_toml_syntax_error_at_the_end_names_the_last_line(tmp_path: Path) -> None:
    err = error_for(tmp_path, 'scheduler = "local"\nargs = [1,\n  2')
    assert err.message.startswith(f"{tmp_path / '.torchrun_core.toml'}:3: invalid TOML: ")


def test_syntax_error_in_pyproject_with_the_table(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[tool.torchrun_core]\nscheduler = = 1\n", "pyproject.toml")
    assert err.message.startswith(f"{tmp_path / 'pyproject.toml'}:2:")


def test_empty_scheduler_and_odd_tracker_names(tmp_path: Path) -> None:
    err = error_for(tmp_path, '\nscheduler = ""\n')
    assert ":2: scheduler: expected a scheduler name" in err.message
    config_module.clear_cache()
    err = error_for(tmp_path, '[trackers."a b"]\n')
    assert ":1: invalid tracker name 'a b'" in err.message


def test_a_file_that_is_not_utf8_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / ".torchrun_core.toml").write_bytes(b'scheduler = "\xff"\n')
    with pytest.raises(ConfigError, match=r"cannot read config file .*torchrun_core\.toml"):
        load_config(tmp_path)


def test_a_bad_user_file_is_named_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user_dir = tmp_path / "u"
    user_dir.mkdir()
    (user_dir / "config.toml").write_text("[schedulers.local\n")
    monkeypatch.setenv("TORCHRUN_CORE_USER_CONFIG_DIR", str(user_dir))
    (tmp_path / "p").mkdir()
    with pytest.raises(ConfigError, match=f"^{user_dir / 'config.toml'}:1:"):
        load_config(tmp_path / "p")
