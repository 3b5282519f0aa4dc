"""The dashboard's copy of uPlot: vendored at build time from one pinned npm tarball.

setup.py runs scripts/vendor_ui_assets.py before build_py, so the wheel, the
sdist and the editable install (the source tree) hold the files, and git
never does. Nothing here downloads: the pinned tarball comes from the build
cache that installing the package (the test command does) filled.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from ci_rules import in_ci
from test_packaging import BUILD_IGNORED, built_wheel, run

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "vendor_ui_assets.py"
IN_PACKAGE = "torchrun_core/ui/static/vendor/uplot"
VENDORED = ("uPlot.iife.min.js", "uPlot.min.css", "LICENSE", "VERSION")
# Nothing listens on port 9 (discard): a download attempt fails at once.
NO_REGISTRY = "http://127.0.0.1:9/"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vendor_ui_assets", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


vendor = _load_script()


def skip_or_fail(message: str) -> None:
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def offline_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment with an empty cache and an unreachable registry."""
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("npm_config_")}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), npm_config_registry=NO_REGISTRY)
    return {**env, **extra}


def vendor_cli(env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(SCRIPT), *map(str, args)]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)


def make_tgz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_wheel(tmp_path_factory)


@pytest.fixture(scope="module")
def pinned_tgz(wheel: Path) -> Path:
    """The pinned tarball in the build cache (building the wheel may have filled it)."""
    path = vendor.cached_tarball()
    if not path.is_file():
        skip_or_fail(f"no {path}: install the package first (scripts/test.sh does)")
    assert vendor.integrity_of(path.read_bytes()) == vendor.INTEGRITY
    return Path(path)


def test_wheel_holds_the_vendored_files(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        for name in VENDORED:
            assert f"{IN_PACKAGE}/{name}" in names, f"{name} is not in {wheel.name}"
        assert whl.read(f"{IN_PACKAGE}/VERSION").decode() == vendor.stamp_text()
        assert b"The MIT License" in whl.read(f"{IN_PACKAGE}/LICENSE")


def test_wheel_script_is_the_pinned_release(wheel: Path, pinned_tgz: Path) -> None:
    with tarfile.open(pinned_tgz) as tar:
        stream = tar.extractfile("package/dist/uPlot.iife.min.js")
        assert stream is not None
        expected = hashlib.sha256(stream.read()).hexdigest()
    with zipfile.ZipFile(wheel) as whl:
        actual = hashlib.sha256(whl.read(f"{IN_PACKAGE}/uPlot.iife.min.js")).hexdigest()
    assert actual == expected


def test_editable_install_serves_the_source_tree(tmp_path: Path) -> None:
    # find_spec imports torchrun_core but not torchrun_core.ui (nor its server).
    check = "import importlib.util as u; print(u.find_spec('torchrun_core.ui').origin)"
    origin = Path(run([sys.executable, "-I", "-c", check], cwd=tmp_path).strip())
    if not origin.is_relative_to(REPO):
        skip_or_fail("torchrun-core is not installed editable here (scripts/test.sh does that)")
    source = REPO / IN_PACKAGE
    assert origin.parent / "static" / "vendor" / "uplot" == source
    assert vendor.is_current(source), f"{source} lacks files or its VERSION stamp is stale"


def test_script_vendors_from_the_override_offline(pinned_tgz: Path, tmp_path: Path) -> None:
    env = offline_env(tmp_path, TORCHRUN_CORE_UPLOT_TGZ=str(pinned_tgz))
    dest = tmp_path / "dest"
    first = vendor_cli(env, "--dest", dest)
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in dest.iterdir()) == sorted(VENDORED)
    again = vendor_cli(env, "--dest", dest)
    assert again.returncode == 0 and "already in" in again.stdout, again


def test_script_refuses_a_tampered_tarball(pinned_tgz: Path, tmp_path: Path) -> None:
    data = bytearray(pinned_tgz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered = tmp_path / pinned_tgz.name
    tampered.write_bytes(data)
    dest = tmp_path / "dest"
    proc = vendor_cli(offline_env(tmp_path, TORCHRUN_CORE_UPLOT_TGZ=str(tampered)), "--dest", dest)
    assert proc.returncode != 0
    assert proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith("error: ") and "integrity mismatch" in line, line
    assert not dest.exists()


def test_script_names_the_override_when_offline(tmp_path: Path) -> None:
    proc = vendor_cli(offline_env(tmp_path), "--dest", tmp_path / "dest")
    assert proc.returncode != 0
    (line,) = proc.stderr.splitlines()
    assert "cannot download" in line and "TORCHRUN_CORE_UPLOT_TGZ=" in line, line


@pytest.mark.parametrize("bad", ["../x", "package/../../x", "/tmp/x"])
def test_script_refuses_a_member_outside_the_package(
    bad: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {member: b"x" for member in vendor.MEMBERS}
    assert set(vendor.read_members(make_tgz(files))) == set(VENDORED) - {"VERSION"}
    crafted = make_tgz({**files, bad: b"escaped"})
    tgz = tmp_path / "crafted.tgz"
    tgz.write_bytes(crafted)
    # Past the integrity check (which alone would refuse it) to the path check.
    monkeypatch.setattr(vendor, "INTEGRITY", vendor.integrity_of(crafted))
    monkeypatch.setenv(vendor.OVERRIDE_ENV, str(tgz))
    dest = tmp_path / "a" / "b" / "dest"
    with pytest.raises(vendor.VendorError, match="unsafe path"):
        vendor.ensure(dest)
    assert not dest.exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["crafted.tgz"]


@pytest.mark.slow
def test_sdist_builds_its_wheel_offline(tmp_path: Path) -> None:
    """The sdist carries the files and the script: its wheel needs no registry."""
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(*BUILD_IGNORED))
    run([sys.executable, "-m", "build", "--sdist", "--outdir", tmp_path, src], cwd=src, timeout=300)
    (sdist,) = tmp_path.glob("torchrun_core-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = set(tar.getnames())
        tar.extractall(tmp_path / "unpacked", filter="data")
    top = sdist.name.removesuffix(".tar.gz")
    assert f"{top}/scripts/vendor_ui_assets.py" in names
    assert {f"{top}/{IN_PACKAGE}/{name}" for name in VENDORED} <= names
    unpacked = tmp_path / "unpacked" / top
    # Only npm is out of reach: the isolated build still installs setuptools from PyPI.
    argv = [sys.executable, "-m", "build", "--wheel", "--outdir", tmp_path]
    env = offline_env(tmp_path)
    proc = subprocess.run([*argv, unpacked], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (whl,) = tmp_path.glob("torchrun_core-*.whl")
    assert {f"{IN_PACKAGE}/{name}" for name in VENDORED} <= set(zipfile.ZipFile(whl).namelist())
    assert not (tmp_path / "cache" / "torchrun-core-build").exists()  # nothing fetched
