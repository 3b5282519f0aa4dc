"""What ``CI=true`` changes in the tests: a missing engine fails instead of skipping.

Integration tests marked ``docker``, ``slurm`` or ``kubernetes`` call
:func:`require_engine` before using their engine::

    from ci_rules import require_engine

    @pytest.mark.docker
    def test_runs_a_container(docker_socket: Path) -> None:
        require_engine("docker", docker_socket.exists(), f"no dockerd socket at {docker_socket}")

Outside CI a missing engine skips the test and says why; under ``CI=true``
it fails it. ``tests/conftest.py`` also turns any other skip of such a test
under CI (``pytest.importorskip``, a ``skipif``) into a failure.

This is a plain module, not part of ``conftest.py``: every test directory may
have its own ``conftest``, so ``from conftest import ...`` would pick one at
random. ``tests/`` is on ``sys.path`` because ``tests/conftest.py`` is.
"""

from __future__ import annotations

import os

import pytest

ENGINE_MARKERS = ("docker", "slurm", "kubernetes", "browser")


def in_ci() -> bool:
    """True when running under CI (``CI=true``), where missing engines are failures."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_engine(name: str, available: bool, why: str) -> None:
    """Go on when engine ``name`` is available; else skip, or fail under CI.

    Args:
        name: the engine, e.g. ``"docker"``.
        available: whether the test can reach it.
        why: what is missing, e.g. ``"no dockerd socket at /run/x.sock"``.
    """
    if available:
        return
    message = f"{name} engine not available: {why}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: a missing engine fails the run)", pytrace=False)
    pytest.skip(message)


def require_installed(what: str, available: bool, how: str) -> None:
    """Like :func:`require_engine`, for something the test command installs (a package)."""
    if available:
        return
    message = f"{what} is not installed: {how}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: the test command must install it)", pytrace=False)
    pytest.skip(message)
