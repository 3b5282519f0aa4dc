"""Help and summaries read from a component's source (AST), without importing it.

The static reading must render exactly the help that the imported function
gives, and give up (falling back to the import) whenever it cannot be sure.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from torchrun_core.component_loading.loader import _loaded, _static_parser, component_help
from torchrun_core.errors import ComponentError

HEADER = """\
from __future__ import annotations

import collections.abc
import enum
import pathlib
import typing as t
from enum import IntEnum
from typing import Literal, Optional, Sequence

import torchrun_core
from torchrun_core import AppDef, Role


class Color(enum.Enum):
    \"\"\"Colours.\"\"\"

    RED = "red"
    GREEN = "green"


class Level(IntEnum):
    LOW = 1
    HIGH = 2


def _app(*values: object) -> AppDef:
    return AppDef(name="t", roles=[Role(name="t", entrypoint="x", args=[repr(v) for v in values])])
"""

# Each function here must be read statically, with the same help as imported.
STATIC = '''
def scalars(name: str, count: int = -2, ratio: float = 1e-3, on: bool = True,
            path: pathlib.Path | None = None, color: Color = Color.GREEN) -> AppDef:
    """Scalars and enums.

    Args:
        name: a name, with 100% of the % signs
        count: how many
    """
    return _app(name, count, ratio, on, path, color)


def generics(a: t.List[int] = [], b: Sequence[str] = (), c: collections.abc.Sequence[float] = (),
             d: tuple[int, ...] = (), e: t.Dict[str, int] | None = None,
             f: Optional[Level] = Level.HIGH, g: "Literal['x', 'y']" = "x") -> torchrun_core.AppDef:
    return _app(a, b, c, d, e, f, g)


def strings(n: "int", m: "list[str] | None" = None) -> "AppDef":
    return _app(n, m)


def varargs(first: str, *rest: str, opt: t.Optional[str] = None) -> AppDef:
    """Var args.

    Args:
        rest: the rest
    """
    return _app(first, rest, opt)


def kwonly(*, a: int, b: bool) -> AppDef:
    return _app(a, b)


def malformed_return(x: int) -> str:
    return ""


def malformed_param(x, y: int) -> AppDef:
    return _app(x, y)


def unsupported(x: set[str]) -> AppDef:
    return _app(x)
'''

# Each function here needs the import: the static reading must give up (None).
DYNAMIC = """
from functools import wraps

from torchrun_core.specs.state import AppState
DEFAULT = 3
Alias = list


class Auto(enum.Enum):
    A = enum.auto()


def deco(fn):
    @wraps(fn)
    def inner(*args, **kwargs):
        return fn(*args, **kwargs)
    return inner


@deco
def decorated(x: int = 1) -> AppDef:
    return _app(x)


def auto_enum(a: Auto = Auto.A) -> AppDef:
    return _app(a)


def imported_enum(state: AppState = AppState.RUNNING) -> AppDef:
    return _app(state)


def computed_default(x: int = DEFAULT) -> AppDef:
    return _app(x)


def aliased(x: Alias[str] = []) -> AppDef:
    return _app(x)


def later(x: int = 1) -> AppDef:
    return _app(x)


later = deco(later)
"""

STATIC_NAMES = [
    "scalars", "generics", "strings", "varargs", "kwonly",
    "malformed_return", "malformed_param", "unsupported",
]  # fmt: skip
DYNAMIC_NAMES = [
    "decorated", "auto_enum", "imported_enum", "computed_default", "aliased", "later"
]  # fmt: skip


@pytest.fixture
def comp_file(tmp_path: Path) -> Path:
    path = tmp_path / "comps.py"
    path.write_text(HEADER + textwrap.dedent(STATIC) + textwrap.dedent(DYNAMIC))
    return path


def help_or_error(get_parser: object) -> str:
    try:
        return get_parser().format_help()  # type: ignore[operator, no-any-return]
    except ComponentError as err:
        return f"error: {err}"


@pytest.mark.parametrize("fn", STATIC_NAMES)
def test_static_help_equals_the_imported_help(comp_file: Path, fn: str) -> None:
    name = f"{comp_file}:{fn}"
    static = help_or_error(lambda: _static_parser(name, None))
    imported = help_or_error(lambda: _loaded(name, None).parser)
    assert static == imported
    assert static.startswith(("usage: ", f"error: {comp_file}:"))


@pytest.mark.parametrize("fn", DYNAMIC_NAMES)
def test_static_reading_gives_up_when_unsure(comp_file: Path, fn: str) -> None:
    name = f"{comp_file}:{fn}"
    assert _static_parser(name, None) is None
    assert component_help(name).startswith(f"usage: torchrun-core run {name}")


def test_static_help_details(comp_file: Path) -> None:
    text = help_or_error(lambda: _static_parser(f"{comp_file}:scalars", None))
    assert "a name, with 100% of the % signs (required)" in text
    assert "--color {red,green}" in text and "(default: green)" in text
    assert "--on, --no-on" in text and "(default: -2)" in text
    generics = help_or_error(lambda: _static_parser(f"{comp_file}:generics", None))
    assert "--f {1,2}" in generics and "--g {x,y}" in generics


def test_missing_function_and_syntax_error_without_import(tmp_path: Path) -> None:
    path = tmp_path / "c.py"
    path.write_text("import no_such_module\n\ndef present(x: int) -> AppDef: ...\n")
    with pytest.raises(ComponentError, match="has no function 'absent'") as info:
        _static_parser(f"{path}:absent", None)
    assert info.value.hint == "functions in it: present"
    star = tmp_path / "star.py"
    star.write_text("from os.path import *\n")
    assert _static_parser(f"{star}:absent", None) is None  # only the import can tell
    bad = tmp_path / "bad.py"
    bad.write_text("def f(:\n")
    with pytest.raises(ComponentError, match=r"bad.py:1: syntax error"):
        _static_parser(f"{bad}:f", None)


# -- the CLI: help without pydantic, malformed components named by file and line ------

PROBE = """
import json, sys
from torchrun_core.cli.main import main
code = main(sys.argv[1:])
sys.stdout.flush()
print(json.dumps({"code": code, "pydantic": "pydantic" in sys.modules,
                  "component_imported": any(m.startswith("_torchrun_core_component_")
                                            for m in sys.modules)}))
"""


def probe(*argv: str) -> tuple[str, dict[str, object]]:
    """Run the CLI in a child; its output and what it had imported at the end."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    *out, last = proc.stdout.splitlines()
    return "\n".join(out), json.loads(last)


def test_file_component_help_imports_neither_it_nor_pydantic(comp_file: Path) -> None:
    out, seen = probe("run", f"{comp_file}:scalars", "--help")
    assert seen == {"code": 0, "pydantic": False, "component_imported": False}
    assert out.startswith(f"usage: torchrun-core run {comp_file}:scalars")
    assert "Scalars and enums." in out


def test_builtin_component_help_and_builtins_import_no_pydantic() -> None:
    out, seen = probe("run", "utils.booth", "--help")
    assert seen["code"] == 0 and seen["pydantic"] is False
    assert "--x1 X1" in out and "the first coordinate (required)" in out
    out, seen = probe("builtins")
    assert seen["code"] == 0 and seen["pydantic"] is False
    assert "utils.booth" in out and "utils.copy" in out and "utils.touch" in out


def test_help_of_an_unsure_component_falls_back_to_the_import(comp_file: Path) -> None:
    out, seen = probe("run", f"{comp_file}:decorated", "--help")
    assert seen["code"] == 0 and seen["component_imported"] is True
    assert "--x X" in out


def test_help_inside_var_args_goes_to_the_command() -> None:
    out, seen = probe("run", "--dryrun", "utils.sh", "man", "--help")
    assert seen["code"] == 0
    assert "man --help" in out


MALFORMED = {
    "noann.py": ("def f(x) -> AppDef:\n    ...\n", 3, "parameter 'x' has no type annotation"),
    "noret.py": ("def f(x: int):\n    ...\n", 3, "its return annotation must be AppDef"),
    "wrongret.py": ("def f(x: int) -> str:\n    ...\n", 3, "its return annotation must be AppDef"),
}


@pytest.mark.parametrize("ask_help", [False, True])
@pytest.mark.parametrize("file", sorted(MALFORMED))
def test_malformed_component_names_file_and_line(tmp_path: Path, file: str, ask_help: bool) -> None:
    body, line, why = MALFORMED[file]
    path = tmp_path / file
    path.write_text(f"from torchrun_core import AppDef\n\n{body}")
    argv = ["run", f"{path}:f", *(["--help"] if ask_help else [])]
    proc = subprocess.run(
        [sys.executable, "-m", "torchrun_core", *argv], capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == f"error: {path}:{line}: component 'f' is malformed: {why}"
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("source", "suffix", "expected"),
    [
        ("x = 1\nraise RuntimeError('boom')\n", ":f", "{path}:2: cannot import component file: "
         "RuntimeError: boom"),
        ("import no_such_module_xyz\n", ":f", "{path}:1: cannot import component file: "
         "ModuleNotFoundError: No module named 'no_such_module_xyz'"),
        ("def f(:\n", ":f", "{path}:1: syntax error: "),
        ("def g() -> None: ...\n", ":f", "{path} has no function 'f'"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("ask_help", [False, True])
def test_broken_component_files(
    tmp_path: Path, source: str, suffix: str, expected: str, ask_help: bool
) -> None:
    path = tmp_path / "broken.py"
    path.write_text(source)
    argv = ["run", "--dryrun", f"{path}{suffix}", *(["--help"] if ask_help else [])]
    proc = subprocess.run(
        [sys.executable, "-m", "torchrun_core", *argv], capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith("error: " + expected.format(path=path)), first
    assert "Traceback" not in proc.stderr
