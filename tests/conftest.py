"""Fixtures and rules shared by every test.

- Each test gets its own ``TORCHRUN_CORE_STATE_DIR`` and
  ``TORCHRUN_CORE_USER_CONFIG_DIR`` (under ``tmp_path``; the latter does not
  exist unless the test makes it), and
  no other ``TORCHRUN_CORE_*`` variable leaks in from the caller's shell
  (``TORCHRUN_CORE_TEST_*``, set by the test command, is kept), so a test
  never touches the user's real state dir.
- The process-wide plugin registry is forgotten after each test, so that a
  test changing the environment (a blocked plugin, a new entry point) cannot
  leak its registry into the next one; ``fresh_registry`` gives a new one.
- Integration tests marked ``docker``, ``slurm`` or ``kubernetes`` call
  :func:`ci_rules.require_engine` (also a fixture here): outside CI a missing
  engine skips the test and says why; under ``CI=true`` it fails it. Any
  other skip of such a test under CI (``pytest.importorskip``, a ``skipif``)
  is turned into a failure as well. Import helpers from ``ci_rules``, never
  from ``conftest`` (several directories have one).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
from ci_rules import ENGINE_MARKERS, in_ci, require_engine
from inmemory_scheduler import InMemoryEngine, Observer, make_registry

from torchrun_core.registry import PluginRegistry, get_registry, reset_registry
from torchrun_core.runner import Runner

pytest_plugins = ["pytester"]  # tests/test_ci_rules.py runs pytest on small test files

# Variables the test command sets for the tests themselves (e.g. the wheel to
# install, an engine's address) use this prefix and are kept.
TEST_ENV_PREFIX = "TORCHRUN_CORE_TEST_"


@pytest.fixture(name="require_engine")
def require_engine_fixture() -> Callable[[str, bool, str], None]:
    """:func:`require_engine`, for tests that prefer a fixture to an import."""
    return require_engine


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private state dir per test, and no TORCHRUN_CORE_* settings from outside."""
    for key in list(os.environ):
        if key.startswith("TORCHRUN_CORE_") and not key.startswith(TEST_ENV_PREFIX):
            monkeypatch.delenv(key)
    state = tmp_path / "state"
    monkeypatch.setenv("TORCHRUN_CORE_STATE_DIR", str(state))
    # Nor the user's own config file (~/.config/torchrun_core/config.toml).
    monkeypatch.setenv("TORCHRUN_CORE_USER_CONFIG_DIR", str(tmp_path / "user-config"))
    yield state
    reset_registry()


@pytest.fixture
def state_dir(_isolated_state: Path) -> Path:
    """This test's ``TORCHRUN_CORE_STATE_DIR``."""
    return _isolated_state


# The in-memory engine and a Runner over it, for the Runner's unit tests;
# integration test dirs define their own ``runner`` over a real engine.
@pytest.fixture
def engine() -> InMemoryEngine:
    return InMemoryEngine()


@pytest.fixture
def observer() -> Observer:
    return Observer()


@pytest.fixture
def runner(engine: InMemoryEngine, observer: Observer) -> Iterator[Runner]:
    with Runner("test", registry=make_registry(engine, observer)) as made:
        yield made


@pytest.fixture
def fresh_registry() -> Iterator[PluginRegistry]:
    """A plugin registry loaded now, from the current environment; forgotten afterwards."""
    reset_registry()
    yield get_registry()
    reset_registry()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Under CI=true, an engine-marked test that skipped has failed."""
    report = yield
    if not (report.skipped and in_ci()):
        return report
    engines = [m for m in ENGINE_MARKERS if item.get_closest_marker(m) is not None]
    if engines and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (
            f"{'/'.join(engines)} test skipped under CI=true, which counts as a failure: {reason}"
        )
    return report
