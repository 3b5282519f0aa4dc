"""The test container registries of ``scripts/engines/registry.sh``, for tests that push images.

``scripts/test.sh`` starts two registries on 127.0.0.1 (plain HTTP, which
dockerd allows on loopback without any insecure-registries setting) and
exports where they are:

- ``TORCHRUN_CORE_TEST_REGISTRY``: ``host:port`` of one with no authentication;
- ``TORCHRUN_CORE_TEST_REGISTRY_AUTH``: ``host:port`` of one with htpasswd
  (basic) authentication, for the user ``TORCHRUN_CORE_TEST_REGISTRY_AUTH_USER``
  whose password is in the file ``TORCHRUN_CORE_TEST_REGISTRY_AUTH_PASSWORD_FILE``.

A test calls :func:`require_registries`, usually from a fixture of its own
(``tests/schedulers/docker/test_registry_engine.py`` has one that comes after
``docker_host``), or imports the ``registries`` fixture below (ruff then wants
``# noqa: F401`` on the import and ``F811`` on the tests taking it). Either
skips when the registries are not there, and fails under ``CI=true``
(``ci_rules.require_engine``). Mark such tests ``docker`` when they use the
test dockerd: the registries are on 127.0.0.1, so only a daemon on this host
reaches them.

This is a plain module in ``tests/`` (on ``sys.path`` because
``tests/conftest.py`` is, like ``ci_rules``), so tests in any directory
import it; there are no ``__init__.py`` files, so its name is unique.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from ci_rules import require_engine

ENGINE_SH = Path(__file__).parents[1] / "scripts" / "engines" / "registry.sh"
PLAIN_ENV = "TORCHRUN_CORE_TEST_REGISTRY"
AUTH_ENV = "TORCHRUN_CORE_TEST_REGISTRY_AUTH"
USER_ENV = "TORCHRUN_CORE_TEST_REGISTRY_AUTH_USER"
PASSWORD_FILE_ENV = "TORCHRUN_CORE_TEST_REGISTRY_AUTH_PASSWORD_FILE"


@dataclass(frozen=True)
class TestRegistries:
    """Where the two test registries are, and the auth one's credentials."""

    __test__ = False  # not a test class, despite its name

    plain: str  # host:port, no authentication
    auth: str  # host:port, basic authentication
    user: str
    password_file: Path

    @property
    def password(self) -> str:
        """The auth registry's password (read on demand; never log it)."""
        return self.password_file.read_text(encoding="utf-8").strip()

    def auth_config(self) -> dict[str, str]:
        """Credentials for the auth registry, in the docker SDK's ``auth_config`` form."""
        return {"username": self.user, "password": self.password}


def _v2_status(address: str) -> int | str:
    """The HTTP status of ``GET /v2/`` on ``address``, or why there was none."""
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:  # 401 from the auth registry lands here
        return err.code
    except OSError as err:
        return str(err)


def require_registries() -> TestRegistries:
    """The test registries; skips (fails under CI) when they are not set or not up."""
    how = "scripts/test.sh sets them (bash scripts/engines/registry.sh start prints them)"
    values = {name: os.environ.get(name, "") for name in (PLAIN_ENV, AUTH_ENV, USER_ENV)}
    values[PASSWORD_FILE_ENV] = os.environ.get(PASSWORD_FILE_ENV, "")
    missing = [name for name, value in values.items() if not value]
    require_engine("registry", not missing, f"{', '.join(missing)} not set: {how}")
    registries = TestRegistries(
        plain=values[PLAIN_ENV],
        auth=values[AUTH_ENV],
        user=values[USER_ENV],
        password_file=Path(values[PASSWORD_FILE_ENV]),
    )
    require_engine(
        "registry",
        registries.password_file.is_file(),
        f"no password file at {registries.password_file} ({PASSWORD_FILE_ENV})",
    )
    # Up means: the plain one lets anyone in (200), the auth one asks for credentials (401).
    for address, expected in ((registries.plain, 200), (registries.auth, 401)):
        status = _v2_status(address)
        require_engine(
            "registry",
            status == expected,
            f"GET http://{address}/v2/ gave {status!r}, expected {expected} ({ENGINE_SH})",
        )
    return registries


@pytest.fixture(scope="session")
def registries() -> TestRegistries:
    """The test registries (see :func:`require_registries`)."""
    return require_registries()
