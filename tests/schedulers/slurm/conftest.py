"""Fixtures for the slurm scheduler's integration tests (marked ``slurm``).

``scripts/test.sh`` starts two 2-node Slurm clusters, each with an sshd on
127.0.0.1 (``scripts/engines/slurm.sh``), and exports where to reach them:
``TORCHRUN_CORE_TEST_SLURM_{HOST,PORT,USER,KEY,HOST_KEY,CONF}`` for the
``site`` profile (tuned for the tests: job_comment in accounting, MinJobAge=600,
proctrack/linuxproc, KillWait=2) and ``TORCHRUN_CORE_TEST_SLURM_STOCK_*`` for
the ``stock`` one (Slurm's defaults: no job_comment, proctrack/pgid,
KillWait=30, and MinJobAge=5). Every test that uses ``slurm_cluster``,
``slurm_conn`` or ``runner`` runs once on each (ids ``site`` and ``stock``).
Without a cluster's values its tests skip, saying why; under ``CI=true`` they
fail (``ci_rules.require_engine``). Every test goes through SSH, with a
known_hosts file written here from the sshd's public host key. Each test runs
in its own session, and its jobs are cancelled afterwards.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ci_rules import require_engine
from slurm_faults import ENV_PREFIXES, SlurmCluster

from torchrun_core.runner import Runner

_NAMES = ("HOST", "PORT", "USER", "KEY", "HOST_KEY", "CONF")


@pytest.fixture(scope="session", params=sorted(ENV_PREFIXES))
def slurm_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> SlurmCluster:
    """The test cluster of one profile (``site``, ``stock``): its values, its connection
    params (``conn``), and its fault commands (see ``slurm_faults``)."""
    name: str = request.param
    prefix = ENV_PREFIXES[name]
    found = {n: os.environ.get(prefix + n, "") for n in _NAMES}
    missing = [prefix + n for n, v in found.items() if not v]
    require_engine(
        "slurm",
        not missing,
        f"the {name} cluster: {', '.join(missing)} not set (scripts/test.sh sets them)",
    )
    pytest.importorskip("paramiko", reason="paramiko is not installed (the [slurm] extra)")
    host_key = Path(found["HOST_KEY"]).read_text().split()
    known = tmp_path_factory.mktemp(f"ssh-{name}") / "known_hosts"
    known.write_text(f"[{found['HOST']}]:{found['PORT']} {host_key[0]} {host_key[1]}\n")
    conn = {
        "host": found["HOST"],
        "port": int(found["PORT"]),
        "user": found["USER"],
        "identity_file": found["KEY"],
        "known_hosts": str(known),
    }
    return SlurmCluster(name, found, conn)


@pytest.fixture(scope="session")
def slurm_conn(slurm_cluster: SlurmCluster) -> dict[str, Any]:
    """The scheduler's connection params for the test cluster, over SSH."""
    return dict(slurm_cluster.conn)


@pytest.fixture
def session() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def runner(slurm_conn: dict[str, Any], session: str) -> Iterator[Runner]:
    """A runner whose slurm scheduler talks to the test cluster; cancels its apps at the end
    (those in its run store too: on the stock cluster ``list`` may not find them all)."""
    with Runner(session, scheduler_params={"slurm": slurm_conn}) as r:
        yield r
        from torchrun_core.schedulers.slurm.scheduler import SlurmScheduler

        ids = {run.app_id for run in r.store.list(scheduler="slurm")}
        sched = SlurmScheduler(session, **slurm_conn)
        try:
            with contextlib.suppress(Exception):  # the test may have left the cluster down
                ids |= {app.app_id for app in sched.list() if not app.state.is_terminal}
            if ids:
                sched.transport().run("scancel " + " ".join(sorted(ids)))
        finally:
            sched.close()
