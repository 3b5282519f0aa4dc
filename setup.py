"""Build steps only: the metadata is in pyproject.toml.

Before anything is built, uPlot (the dashboard's charts) is vendored into
torchrun_core/ui/static/vendor/uplot/ in the source tree (git-ignored; see
scripts/vendor_ui_assets.py), so the wheel, the sdist and an editable install
(which serves the source tree) all have it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from setuptools import Command, setup
from setuptools.command.build import build
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.errors import BaseError

ROOT = Path(__file__).resolve().parent


def _vendor_module() -> ModuleType:
    # scripts/ is no package and the build backend does not put the project on
    # sys.path, so the file is loaded by path.
    path = ROOT / "scripts" / "vendor_ui_assets.py"
    spec = importlib.util.spec_from_file_location("vendor_ui_assets", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class VendorUiAssets(Command):
    description = "vendor uPlot into torchrun_core/ui/static/vendor/uplot/"
    user_options: list[tuple[str, str | None, str]] = []

    def initialize_options(self) -> None:
        pass

    def finalize_options(self) -> None:
        pass

    def run(self) -> None:
        vendor = _vendor_module()
        try:
            changed = vendor.ensure()
        except (vendor.VendorError, OSError) as exc:
            # setuptools prints a DistutilsError as one "error: ..." line.
            raise BaseError(" ".join(str(exc).split())) from None
        state = "vendored" if changed else "already present"
        self.announce(f"uplot {vendor.VERSION}: {state} in {vendor.DEFAULT_DEST}", level=2)


class Build(build):
    # First of build's steps: the editable install runs these one by one and,
    # unlike for a custom build_py, does not swallow this step's errors.
    sub_commands = [("vendor_ui_assets", None), *build.sub_commands]


class BuildPy(build_py):
    def run(self) -> None:
        self.run_command("vendor_ui_assets")  # once per build; no-op if already run
        super().run()


class Sdist(sdist):
    def run(self) -> None:
        # The file list is made from what exists, so the files must be there first.
        self.run_command("vendor_ui_assets")
        super().run()


setup(
    cmdclass={
        "vendor_ui_assets": VendorUiAssets,
        "build": Build,
        "build_py": BuildPy,
        "sdist": Sdist,
    }
)
