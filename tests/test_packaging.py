"""The wheel and the editable install both map schedulers/ and components/ into torchrun_core.

Only ``torchrun_core`` may land in site-packages: ``torchrun_core.schedulers``
and ``torchrun_core.components`` come from the repo's ``schedulers/`` and
``components/`` directories, and no top-level ``schedulers`` or
``components`` module may appear.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from ci_rules import in_ci

REPO = Path(__file__).resolve().parents[1]
# scripts/test.sh builds the wheel once (mypy checks it too) and passes it here.
WHEEL_ENV = "TORCHRUN_CORE_TEST_WHEEL"
# Not needed to build, and possibly large or stale.
BUILD_IGNORED = (
    *(".git", ".venv", ".ci", "build", "dist", "site", "*.egg-info", "__pycache__"),
    *(".mypy_cache", ".ruff_cache", ".pytest_cache"),
)
# Where each source directory lands inside the installed package.
SOURCE_DIRS = {
    "torchrun_core": REPO / "torchrun_core",
    "torchrun_core/schedulers": REPO / "schedulers",
    "torchrun_core/components": REPO / "components",
}
IMPORT_CHECK = """
import importlib.util, json, sys
import torchrun_core.schedulers.local
import torchrun_core.components.utils
from torchrun_core.components.utils import echo
assert echo(msg="hi").roles[0].args == ["hi"]
print(json.dumps({
    "core": torchrun_core.__file__,
    "local": torchrun_core.schedulers.local.__file__,
    "utils": torchrun_core.components.utils.__file__,
    "top_level": [n for n in ("schedulers", "components") if importlib.util.find_spec(n)],
}))
"""


def run(argv: Sequence[str | Path], cwd: Path, timeout: float = 120) -> str:
    """Run ``argv`` and return its stdout; fail the test with its output otherwise."""
    proc = subprocess.run(
        [str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{argv} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


# The wheel built_wheel() made in this session (tests/ui uses it too).
_built_wheels: list[Path] = []


def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this tree: by the test command, or here once per session."""
    given = os.environ.get(WHEEL_ENV)
    if given:
        return Path(given)
    if not _built_wheels:
        # Build from a copy: an in-tree build writes build/ and *.egg-info into the
        # repo, and setuptools' build/lib would keep modules deleted since.
        src = tmp_path_factory.mktemp("src") / "torchrun-core"
        shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(*BUILD_IGNORED))
        out = tmp_path_factory.mktemp("dist")
        argv = [sys.executable, "-m", "build", "--wheel", "--outdir", out, src]
        run(argv, cwd=src, timeout=300)
        _built_wheels.extend(out.glob("torchrun_core-*.whl"))
    (built,) = _built_wheels
    return built


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this tree (by the test command, or here)."""
    return built_wheel(tmp_path_factory)


@pytest.fixture(scope="module")
def wheel_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with the wheel (and its dependencies) installed; returns its directory."""
    venv = tmp_path_factory.mktemp("wheel-venv")
    # --without-pip plus `pip --python` avoids bootstrapping a second pip.
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=venv)
    pip: list[str | Path] = [sys.executable, "-m", "pip", "--python", venv / "bin" / "python"]
    run([*pip, "install", "--quiet", wheel], cwd=venv, timeout=300)
    return venv


def test_wheel_holds_only_torchrun_core(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert top == {"torchrun_core", wheel.name.split("-py")[0] + ".dist-info"}, top
    for installed, source in SOURCE_DIRS.items():
        # Subpackages too: each must be listed in pyproject's packages.
        for path in source.rglob("*.py"):
            assert f"{installed}/{path.relative_to(source)}" in names, f"{path} is not in the wheel"
    assert "torchrun_core/py.typed" in names


def test_wheel_declares_the_builtin_plugins_and_script(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        (ep_name,) = [n for n in whl.namelist() if n.endswith(".dist-info/entry_points.txt")]
        entry_points = whl.read(ep_name).decode()
    assert "local = torchrun_core.schedulers.local" in entry_points
    assert "builtin_components = torchrun_core.components" in entry_points
    assert "torchrun-core = torchrun_core.cli.main:console_main" in entry_points


def test_wheel_install_imports_mapped_packages(wheel_venv: Path, tmp_path: Path) -> None:
    # -I: no cwd, PYTHONPATH or user site on sys.path, so only the venv counts.
    out = run([wheel_venv / "bin" / "python", "-I", "-c", IMPORT_CHECK], cwd=tmp_path)
    found = json.loads(out)
    assert found["top_level"] == []
    for key in ("local", "utils"):
        assert "site-packages/torchrun_core/" in found[key], found[key]
    (site,) = (wheel_venv / "lib").glob("python3*/site-packages")
    assert not {"schedulers", "components"} & {p.name for p in site.iterdir()}


def test_wheel_install_runs_the_cli(wheel_venv: Path, tmp_path: Path) -> None:
    bin_dir = wheel_venv / "bin"
    assert "usage: torchrun-core" in run([bin_dir / "torchrun-core", "--help"], cwd=tmp_path)
    module_help = run([bin_dir / "python", "-I", "-m", "torchrun_core", "--help"], cwd=tmp_path)
    assert "usage: torchrun-core" in module_help
    listed = run([bin_dir / "torchrun-core", "builtins"], cwd=tmp_path)
    assert "utils.echo" in listed


def test_wheel_install_runs_the_readme_demo(wheel_venv: Path, tmp_path: Path) -> None:
    """The README's demo, from the wheel: utils.echo on local, waited for, output shown."""
    out = run(
        [
            wheel_venv / "bin" / "torchrun-core",
            "run",
            "--wait",
            "utils.echo",
            "--msg",
            "from wheel",
        ],
        cwd=tmp_path,
    )
    assert "from wheel" in out
    assert out.splitlines()[-1].startswith("local://")


def test_editable_install_imports_mapped_packages(tmp_path: Path) -> None:
    out = run([sys.executable, "-I", "-c", IMPORT_CHECK], cwd=tmp_path)
    found = json.loads(out)
    if not Path(found["core"]).is_relative_to(REPO):
        message = "torchrun-core is not installed editable here (scripts/test.sh does that)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    assert found["top_level"] == []
    assert Path(found["local"]) == REPO / "schedulers" / "local" / "__init__.py"
    assert Path(found["utils"]) == REPO / "components" / "utils.py"
