"""The CI rules of conftest.py and ci_rules.py, checked by running pytest on small test files.

Outside CI a missing engine skips its test with the reason; under
``CI=true`` it fails, whether the test used ``require_engine`` or skipped in
another way (``importorskip``). Skips of unmarked tests are left alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")
CI_RULES = Path(__file__).with_name("ci_rules.py")
INMEMORY = Path(__file__).with_name("inmemory_scheduler.py")  # conftest.py imports it
ENGINE_TESTS = """
import pytest
from ci_rules import require_engine

@pytest.mark.docker
def test_needs_docker():
    require_engine("docker", False, "no dockerd socket")

@pytest.mark.slurm
def test_needs_slurm_sdk():
    pytest.importorskip("no_such_slurm_sdk")

@pytest.mark.kubernetes
def test_has_kubernetes():
    require_engine("kubernetes", True, "unused")

def test_unrelated_skip():
    pytest.skip("not an engine test")
"""


@pytest.fixture
def engine_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(ci_rules=CI_RULES.read_text(encoding="utf-8"))
    pytester.makepyfile(inmemory_scheduler=INMEMORY.read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\nmarkers =\n    docker: d\n    slurm: s\n    kubernetes: k\n")
    pytester.makepyfile(test_engines=ENGINE_TESTS)
    return pytester


def test_missing_engine_skips_with_reason_outside_ci(
    engine_suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    result = engine_suite.runpytest_subprocess("-rs")
    result.assert_outcomes(passed=1, skipped=3)
    result.stdout.fnmatch_lines(["*docker engine not available: no dockerd socket*"])


def test_missing_engine_fails_under_ci(
    engine_suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    result = engine_suite.runpytest_subprocess("-rfs")
    result.assert_outcomes(passed=1, failed=2, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*docker engine not available: no dockerd socket (CI=true*",
            "*slurm test skipped under CI=true, which counts as a failure*no_such_slurm_sdk*",
        ],
        consecutive=False,
    )
