"""The slurm plugin is lazy: discovery and a dry run import no paramiko."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
from torchrun_core.registry import get_registry
from torchrun_core.specs.app import AppDef, Role
import torchrun_core.schedulers.slurm
assert "paramiko" not in sys.modules, "plugin module imported paramiko"
sched = get_registry().scheduler_factory("slurm")("s", host="login.invalid", user="u", port=22)
role = Role(name="w", image="", entrypoint="echo", num_replicas=3)
print(sched.dryrun(AppDef(name="a", roles=[role])).request.job_dir)
assert "paramiko" not in sys.modules, "dry run imported paramiko"
print("lazy")
"""


def test_discovery_and_dry_run_import_no_paramiko() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "lazy"


def test_plugin_registers_the_scheduler_and_workspace_builder() -> None:
    from torchrun_core.registry import get_registry

    registry = get_registry()
    assert registry.get("schedulers", "slurm") is not None
    assert registry.get("workspace_builders", "slurm") is not None
