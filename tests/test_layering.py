"""The layering contracts (.importlinter) hold, and breaking one fails the check.

scripts/test.sh runs ``lint-imports`` on the unpacked wheel; these tests run
it the same way, then add one module that breaks a rule to a copy of the
tree and check that the run fails naming the broken contract. A contract that
a violation cannot break would be a check in name only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from test_packaging import REPO, wheel  # noqa: F401  (wheel is a fixture)

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.fixture(scope="module")
def unpacked(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """The wheel's contents, where torchrun_core.schedulers is a real directory."""
    if not LINT_IMPORTS.exists():
        pytest.fail(f"lint-imports is not installed next to {sys.executable} (.[dev] has it)")
    site = tmp_path_factory.mktemp("site")
    zipfile.ZipFile(wheel).extractall(site)
    return site


def lint(site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", REPO / ".importlinter"],
        cwd=site,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_keeps_every_contract(unpacked: Path) -> None:
    result = lint(unpacked)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


# (a new module's path in the package, its import, the contract it breaks)
VIOLATIONS = [
    ("specs/_bad.py", "import torchrun_core.registry", "Core layers"),
    ("runstore/_bad.py", "import torchrun_core.runner.api", "Core layers"),
    ("runner/_bad.py", "import torchrun_core.cli.main", "Core layers"),
    (
        "schedulers/slurm/_bad.py",
        "import torchrun_core.schedulers.docker.plan",
        "No builtin backend",
    ),
    (
        "schedulers/local/_bad.py",
        "import torchrun_core.runstore.store",
        "import only the plugin SPI",
    ),
    ("tracking/_bad.py", "import torchrun_core.runner.calls", "Tracking (imported by jobs)"),
    (
        "schedulers/kubernetes/manifests_extra.py",
        "import torchrun_core.schedulers.kubernetes.plan",
        "No import cycles",
    ),
]


@pytest.mark.parametrize(("path", "statement", "contract"), VIOLATIONS, ids=lambda v: str(v))
def test_a_violation_fails_the_check(
    unpacked: Path, tmp_path: Path, path: str, statement: str, contract: str
) -> None:
    site = tmp_path / "site"
    shutil.copytree(unpacked, site)
    module = site / "torchrun_core" / path
    module.write_text(f'"""A deliberate violation."""\n\n{statement}\n')
    if contract == "No import cycles":
        # The new module must be imported by a sibling that plan imports, closing a loop.
        manifests = site / "torchrun_core/schedulers/kubernetes/manifests.py"
        manifests.write_text(
            manifests.read_text()
            + "\nimport torchrun_core.schedulers.kubernetes.manifests_extra  # noqa\n"
        )
    result = lint(site)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout
