"""Loaded components are cached (function, parser, call plan) and reloaded when stale."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from torchrun_core.component_loading.loader import build_app, load_component

SOURCE = """\
from torchrun_core import AppDef, Role


def comp(*rest: str, items: list[str] | None = None, env: dict[str, str] | None = None,
         flag: bool = False) -> AppDef:
    role = Role(name="r", entrypoint="{entry}", args=[repr(rest), repr(items), repr(flag)],
                env=env or {{}})
    return AppDef(name="c", roles=[role])
"""


@pytest.fixture
def comp_file(tmp_path: Path) -> Path:
    path = tmp_path / "cached.py"
    path.write_text(SOURCE.format(entry="first"))
    return path


def test_same_file_component_is_loaded_once(
    comp_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fn = load_component(f"{comp_file}:comp")
    assert load_component(f"{comp_file}:comp") is fn
    monkeypatch.chdir(comp_file.parent)  # a relative name of the same file shares the entry
    assert load_component("cached.py:comp") is fn


def test_changed_file_is_reloaded(comp_file: Path) -> None:
    name = f"{comp_file}:comp"
    assert build_app(name, []).roles[0].entrypoint == "first"
    before = comp_file.stat().st_mtime_ns
    comp_file.write_text(SOURCE.format(entry="second"))
    os.utime(comp_file, ns=(before + 2_000_000_000, before + 2_000_000_000))
    assert build_app(name, []).roles[0].entrypoint == "second"


def test_parsed_values_do_not_leak_between_calls(comp_file: Path) -> None:
    name = f"{comp_file}:comp"
    first = build_app(name, ["--items", "a,b", "--env", "K=V", "--flag", "x", "y"]).roles[0]
    assert first.args == ["('x', 'y')", "['a', 'b']", "True"] and first.env == {"K": "V"}
    second = build_app(name, []).roles[0]
    assert second.args == ["()", "None", "False"] and second.env == {}


def test_concurrent_builds(comp_file: Path) -> None:
    name = f"{comp_file}:comp"

    def build(i: int) -> list[str]:
        return build_app(name, ["--items", str(i), "--", str(i)]).roles[0].args

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(build, range(200)))
    assert results == [[f"('{i}',)", f"['{i}']", "False"] for i in range(200)]
