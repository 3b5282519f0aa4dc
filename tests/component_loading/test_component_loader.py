"""The component loader: finding components, and turning signatures into parsers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from torchrun_core.component_loading.loader import (
    ComponentHelpRequested,
    build_app,
    component_help,
    load_component,
    parse_docstring,
)
from torchrun_core.errors import ComponentError, SpecError

HEADER = """\
from __future__ import annotations

import enum
from typing import Literal, Optional

from torchrun_core.specs.app import AppDef, Role


class Level(enum.Enum):
    LOW = "low"
    HIGH = "high"


def _app(*args: object, **env: str) -> AppDef:
    return AppDef(
        name="t",
        roles=[Role(name="t", entrypoint="x", args=[repr(a) for a in args], env=env)],
    )
"""

COMPONENTS = '''
def typed(name: str, count: int = 2, ratio: float = 0.5, level: Level = Level.LOW,
          mode: Literal["a", "b"] = "a", maybe: Optional[int] = None) -> AppDef:
    """Typed arguments.

    Args:
        name: who to greet
        count: how many
            times, at most
    """
    return _app(name, count, ratio, level, mode, maybe)


def flags(verbose: bool = False, color: bool = True) -> AppDef:
    return _app(verbose, color)


def collections(items: list[str] = [], nums: list[int] | None = None,
                env: dict[str, str] | None = None) -> AppDef:
    return _app(items, nums, env)


def script(first: str, *rest: str, opt: str = "o") -> AppDef:
    """Positional rest.

    Args:
        first: the first word
        rest: everything else
    """
    return _app(first, rest, opt)


def needs(required_flag: bool) -> AppDef:
    return _app(required_flag)


def rejects(n: int = 1) -> AppDef:
    if n < 0:
        raise ValueError("n must not be negative")
    return _app(n)


def buggy() -> AppDef:
    return {}["missing"]


def not_an_app() -> AppDef:
    return "hello"  # type: ignore


def invalid_spec() -> AppDef:
    return AppDef(name="bad name!", roles=[])


def unannotated(x) -> AppDef:
    return _app(x)


def no_return(x: str):
    return _app(x)


def kwargs_only(**kw: str) -> AppDef:
    return _app()


def unsupported(x: set[str]) -> AppDef:
    return _app(x)
'''


@pytest.fixture
def comp_file(tmp_path: Path) -> Path:
    path = tmp_path / "comps.py"
    path.write_text(HEADER + textwrap.dedent(COMPONENTS))
    return path


def args_of(comp_file: Path, fn: str, *argv: str) -> list[str]:
    return build_app(f"{comp_file}:{fn}", list(argv)).roles[0].args


def test_builtin_component_by_name() -> None:
    app = build_app("utils.echo", ["--msg", "hi there"])
    assert app.roles[0].args == ["hi there"]
    assert callable(load_component("utils.sh"))


def test_unknown_builtin_component() -> None:
    with pytest.raises(ComponentError, match=r"unknown component 'nope\.nope'") as info:
        build_app("nope.nope", [])
    assert info.value.hint and "builtins" in info.value.hint


def test_scalar_types_enum_literal_optional(comp_file: Path) -> None:
    assert args_of(comp_file, "typed", "--name", "x") == [
        "'x'", "2", "0.5", "<Level.LOW: 'low'>", "'a'", "None"
    ]  # fmt: skip
    got = args_of(
        comp_file, "typed", "--name", "y", "--count", "7", "--ratio", "1.5",
        "--level", "high", "--mode", "b", "--maybe", "3",
    )  # fmt: skip
    assert got == ["'y'", "7", "1.5", "<Level.HIGH: 'high'>", "'b'", "3"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--name", "x", "--count", "many"], "argument --count: invalid int value: 'many'"),
        (["--name", "x", "--level", "medium"], "argument --level: invalid choice 'medium'"),
        (["--name", "x", "--mode", "c"], "argument --mode: invalid choice 'c'"),
        (["--count", "3"], "the following arguments are required: --name"),
        (["--name", "x", "--bogus", "1"], "unrecognized arguments: --bogus 1"),
        (["--name", "x", "stray"], "unrecognized arguments: stray"),
    ],
)
def test_bad_arguments_raise_component_error(comp_file: Path, argv: list[str], needle: str) -> None:
    name = f"{comp_file}:typed"
    with pytest.raises(ComponentError) as info:
        build_app(name, argv)
    err = info.value
    assert needle in str(err)
    assert str(err).startswith(f"component {name}:")
    assert err.exit_code == 2
    assert err.context["usage"].startswith(f"usage: torchrun-core run {name}")


def test_bools_are_flag_pairs(comp_file: Path) -> None:
    assert args_of(comp_file, "flags") == ["False", "True"]
    assert args_of(comp_file, "flags", "--verbose", "--no-color") == ["True", "False"]
    with pytest.raises(ComponentError, match="required: --required_flag/--no-required_flag"):
        build_app(f"{comp_file}:needs", [])
    assert build_app(f"{comp_file}:needs", ["--no-required_flag"]).roles[0].args == ["False"]


def test_lists_comma_separated_or_repeated(comp_file: Path) -> None:
    got = args_of(comp_file, "collections", "--items", "a,b", "--items", "c", "--nums", "1,2")
    assert got == ["['a', 'b', 'c']", "[1, 2]", "None"]
    with pytest.raises(ComponentError, match="argument --nums: invalid int value: 'x'"):
        build_app(f"{comp_file}:collections", ["--nums", "1,x"])


def test_dicts_as_key_values(comp_file: Path) -> None:
    got = args_of(comp_file, "collections", "--env", "A=1,B=x=y", "--env", "C=3,4")
    assert got[2] == "{'A': '1', 'B': 'x=y', 'C': '3,4'}"
    with pytest.raises(ComponentError, match="argument --env: expected k=v"):
        build_app(f"{comp_file}:collections", ["--env", "novalue"])


def test_var_args_take_the_rest(comp_file: Path) -> None:
    assert args_of(comp_file, "script", "--first", "f", "a", "--opt", "b") == [
        "'f'", "('a', '--opt', 'b')", "'o'"
    ]  # fmt: skip
    assert args_of(comp_file, "script", "--opt", "z", "--first", "f", "--", "-x", "--opt") == [
        "'f'", "('-x', '--opt')", "'z'"
    ]  # fmt: skip
    sh = build_app("utils.sh", ["--env", "A=1", "--", "echo", "--help"]).roles[0]
    assert sh.args == ["-c", "echo --help"] and sh.env == {"A": "1"}


def test_help_lists_arguments_with_docstring_help(comp_file: Path) -> None:
    text = component_help(f"{comp_file}:typed")
    assert "Typed arguments." in text
    assert "who to greet (required)" in text
    assert "how many times, at most (default: 2)" in text
    assert "{low,high}" in text and "{a,b}" in text
    with pytest.raises(ComponentHelpRequested) as info:
        build_app(f"{comp_file}:typed", ["--count", "1", "--help"])
    assert info.value.help_text == text
    assert "everything else" in component_help(f"{comp_file}:script")


def test_component_errors_become_component_errors(comp_file: Path) -> None:
    with pytest.raises(ComponentError, match=r"rejects: n must not be negative$"):
        build_app(f"{comp_file}:rejects", ["--n", "-1"])
    with pytest.raises(ComponentError, match="buggy: KeyError: 'missing'"):
        build_app(f"{comp_file}:buggy", [])
    with pytest.raises(
        ComponentError, match=r"comps.py:\d+: component .*:not_an_app returned str, not AppDef"
    ):
        build_app(f"{comp_file}:not_an_app", [])
    with pytest.raises(SpecError, match="invalid app from component"):
        build_app(f"{comp_file}:invalid_spec", [])


@pytest.mark.parametrize(
    ("fn", "why"),
    [
        ("unannotated", "parameter 'x' has no type annotation"),
        ("no_return", "its return annotation must be AppDef"),
        ("kwargs_only", r"\*\*kw is not supported"),
        ("unsupported", "parameter 'x': unsupported type set"),
    ],
)
def test_malformed_components_name_file_and_line(comp_file: Path, fn: str, why: str) -> None:
    source = comp_file.read_text().splitlines()
    line = next(i for i, text in enumerate(source, 1) if text.startswith(f"def {fn}("))
    with pytest.raises(
        ComponentError, match=f"^{comp_file}:{line}: component '{fn}' is malformed: {why}$"
    ):
        build_app(f"{comp_file}:{fn}", [])


def test_file_component_relative_path(
    comp_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert build_app("comps.py:flags", []).roles[0].args == ["False", "True"]
    monkeypatch.chdir(tmp_path.parent)
    assert build_app(f"./{tmp_path.name}/comps.py:flags", ["--verbose"]).roles[0].args[0] == "True"


def test_file_component_home_path(comp_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(comp_file.parent))
    assert build_app("~/comps.py:flags", []).roles[0].args == ["False", "True"]


def test_missing_file_function_and_broken_files(tmp_path: Path, comp_file: Path) -> None:
    with pytest.raises(ComponentError, match=r"component file '.*nope\.py' not found"):
        load_component(f"{tmp_path}/nope.py:fn")
    with pytest.raises(ComponentError, match="has no function 'nope'") as info:
        load_component(f"{comp_file}:nope")
    assert info.value.hint and "typed" in info.value.hint
    with pytest.raises(ComponentError, match="names a file but no function"):
        load_component(str(comp_file))
    broken = tmp_path / "broken.py"
    broken.write_text("x = 1\ndef f(:\n")
    with pytest.raises(ComponentError, match=r"broken.py:2: syntax error"):
        load_component(f"{broken}:f")
    failing = tmp_path / "failing.py"
    failing.write_text("import no_such_module_here\n")
    with pytest.raises(
        ComponentError,
        match=r"failing.py:1: cannot import component file: ModuleNotFoundError: No module named",
    ):
        load_component(f"{failing}:f")


def test_parse_docstring_sections() -> None:
    doc = textwrap.dedent(
        """\
        Summary line.

        More text.

        Args:
            a: first
            *b (int): second,
                continued
            c:

        Returns:
            an app
        """
    )
    text, helps = parse_docstring(doc)
    assert helps == {"a": "first", "b": "second, continued", "c": ""}
    assert text == "Summary line.\n\nMore text.\n\nReturns:\n    an app"


def test_one_letter_parameters_take_a_single_dash_too() -> None:
    """``-j 2x1`` and ``--j 2x1`` are the same; ``-h`` stays help."""
    short = build_app("dist.ddp", ["-j", "2x1", "-m", "pkg.train"])
    long = build_app("dist.ddp", ["--j", "2x1", "--m", "pkg.train"])
    assert short.roles[0].num_replicas == long.roles[0].num_replicas == 2
    assert short.roles[0].args == long.roles[0].args
    assert "pkg.train" in " ".join(short.roles[0].args)
