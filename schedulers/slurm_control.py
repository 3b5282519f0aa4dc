"""Stopping a Slurm app with a grace period, and removing its job dir.

Slurm's own ``scancel`` marks the job CANCELLED, sends SIGTERM, and sends
SIGKILL after the cluster's ``KillWait``; a user cannot lengthen that. A
shorter grace period is honoured by sending SIGKILL ourselves once it has
passed, so an override shortens a stop and never delays it.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable

from torchrun_core.errors import BackendError
from torchrun_core.schedulers.slurm_script import SCRIPT_NAME
from torchrun_core.schedulers.ssh_transport import Transport

_POLL_S = 0.5


def scancel(transport: Transport, app_id: str, *flags: str) -> None:
    """``scancel [flags] app_id``; BackendError when it fails."""
    command = " ".join(["scancel", *flags, shlex.quote(app_id)])
    done = transport.run(command, rerun_on_drop=True)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise BackendError(
            f"{command} failed: {lines[0][:300] if lines else '(no output)'}",
            scheduler="slurm",
            app_id=app_id,
        )


def cancel_with_grace(
    transport: Transport, app_id: str, grace_period: float, has_ended: Callable[[], bool]
) -> None:
    """Cancel the job, and SIGKILL whatever of it still runs after ``grace_period`` s."""
    scancel(transport, app_id)
    deadline = time.monotonic() + max(0.0, grace_period)
    while (left := deadline - time.monotonic()) > 0:
        if has_ended():
            return
        time.sleep(min(_POLL_S, left))
    if not has_ended():
        scancel(transport, app_id, "--signal=KILL", "--full")


def remove_job_dir(transport: Transport, job_dir: str) -> None:
    """Delete an ended app's job dir (script, logs, exit codes, workspace copy).

    Only a directory holding the app's sbatch script is removed, so that a
    job whose working dir was changed by hand never takes another directory
    with it; a dir already gone is fine.
    """
    if not job_dir.startswith("/"):
        raise BackendError(f"refusing to remove the relative job dir {job_dir!r}")
    quoted = shlex.quote(job_dir)
    command = (
        f"if [ -e {quoted} ]; then [ -f {quoted}/{SCRIPT_NAME} ] || exit 3; rm -rf -- {quoted}; fi"
    )
    done = transport.run(command, rerun_on_drop=True)
    if done.returncode == 3:
        raise BackendError(f"{job_dir} holds no {SCRIPT_NAME}: not a torchrun_core job dir")
    if done.returncode != 0:
        raise BackendError(f"cannot remove {job_dir}: {done.stderr.strip()[:300]}")
