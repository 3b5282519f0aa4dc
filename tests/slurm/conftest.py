"""Fixtures for the slurm scheduler's integration tests (marked ``slurm``).

``scripts/test.sh`` starts a 2-node Slurm cluster and an sshd on 127.0.0.1
(``scripts/engines/slurm.sh``) and exports where to reach it:
``TORCHRUN_CORE_TEST_SLURM_{HOST,PORT,USER,KEY,HOST_KEY}``. Without them these
tests skip, saying why; under ``CI=true`` they fail (``ci_rules.require_engine``).
Every test goes through SSH, with a known_hosts file written here from the
sshd's public host key. Each test runs in its own session, and its jobs are
cancelled afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ci_rules import require_engine

from torchrun_core.runner import Runner

ENV = "TORCHRUN_CORE_TEST_SLURM_"


@pytest.fixture(scope="session")
def slurm_conn(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The scheduler's connection params for the test cluster, over SSH."""
    names = ("HOST", "PORT", "USER", "KEY", "HOST_KEY")
    found = {n: os.environ.get(ENV + n, "") for n in names}
    missing = [ENV + n for n, v in found.items() if not v]
    require_engine(
        "slurm", not missing, f"{', '.join(missing)} not set (scripts/test.sh sets them)"
    )
    pytest.importorskip("paramiko", reason="paramiko is not installed (the [slurm] extra)")
    host_key = Path(found["HOST_KEY"]).read_text().split()
    known = tmp_path_factory.mktemp("ssh") / "known_hosts"
    known.write_text(f"[{found['HOST']}]:{found['PORT']} {host_key[0]} {host_key[1]}\n")
    return {
        "host": found["HOST"],
        "port": int(found["PORT"]),
        "user": found["USER"],
        "identity_file": found["KEY"],
        "known_hosts": str(known),
    }


@pytest.fixture
def session() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def runner(slurm_conn: dict[str, Any], session: str) -> Iterator[Runner]:
    """A runner whose slurm scheduler talks to the test cluster; cancels its apps at the end."""
    with Runner(session, scheduler_params={"slurm": slurm_conn}) as r:
        yield r
        from torchrun_core.schedulers.slurm_scheduler import SlurmScheduler

        sched = SlurmScheduler(session, **slurm_conn)
        try:
            ids = [app.app_id for app in sched.list() if not app.state.is_terminal]
            if ids:
                sched.transport().run("scancel " + " ".join(ids))
        finally:
            sched.close()
