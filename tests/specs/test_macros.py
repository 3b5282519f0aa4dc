"""Macros substituted into a role's args and env."""

from __future__ import annotations

from torchrun_core.specs import macros
from torchrun_core.specs.macros import RANK0_HOST_ENV, Macros

M = Macros(app_id="app-1", replica_id="3", img_root="/img")


def test_each_macro_is_substituted() -> None:
    assert M.substitute("${app_id}") == "app-1"
    assert M.substitute("${replica_id}") == "3"
    assert M.substitute("${img_root}/bin") == "/img/bin"
    assert M.substitute("${rank0_env}") == RANK0_HOST_ENV


def test_several_macros_and_repeats_in_one_string() -> None:
    text = "--id=${app_id}.${replica_id} --again=${app_id} --root ${img_root}"
    assert M.substitute(text) == "--id=app-1.3 --again=app-1 --root /img"


def test_rank0_env_expands_to_a_name_that_a_shell_can_read() -> None:
    assert M.substitute("$${rank0_env}") == f"${RANK0_HOST_ENV}"
    assert Macros(app_id="a", rank0_env="MASTER").substitute("${rank0_env}") == "MASTER"


def test_unknown_macros_and_shell_variables_are_untouched() -> None:
    for text in ["${foo}", "$HOME", "${HOME}", "$app_id", "{app_id}", "$ {app_id}", "${APP_ID}"]:
        assert M.substitute(text) == text


def test_args_and_env_are_substituted_without_touching_the_inputs() -> None:
    args = ["--out=/logs/${app_id}/${replica_id}", "$HOME", "plain"]
    env = {"RUN": "${app_id}", "ROOT": "${img_root}", "SHELL_VAR": "$PATH:${foo}"}
    assert M.apply_args(args) == ["--out=/logs/app-1/3", "$HOME", "plain"]
    assert M.apply_env(env) == {"RUN": "app-1", "ROOT": "/img", "SHELL_VAR": "$PATH:${foo}"}
    # env keys are never substituted, and the inputs are not mutated
    assert M.apply_env({"${app_id}": "x"}) == {"${app_id}": "x"}
    assert args[0] == "--out=/logs/${app_id}/${replica_id}"
    assert env["RUN"] == "${app_id}"


def test_values_containing_macro_text_are_not_expanded_twice() -> None:
    tricky = Macros(app_id="${replica_id}", replica_id="7")
    # app_id is replaced first; a value that looks like a macro must stay literal.
    assert tricky.substitute("${app_id}") == "${replica_id}"


def test_defaults_and_constants() -> None:
    m = Macros(app_id="x")
    assert m.substitute("${replica_id}|${img_root}|${rank0_env}") == f"0||{RANK0_HOST_ENV}"
    assert {macros.APP_ID, macros.REPLICA_ID, macros.IMG_ROOT, macros.RANK0_ENV} == {
        "${app_id}",
        "${replica_id}",
        "${img_root}",
        "${rank0_env}",
    }
