"""Stopping a Slurm app, and removing its job dir.

A cancel first marks the app in its job dir (``CANCEL_FILE``: the batch
script then retries no more, and status reads CANCELLED once Slurm has
forgotten the job), then stops it, and returns only once Slurm runs
nothing of it, COMPLETING included: so an app that reads CANCELLED has no
process left on any node.

- Without a grace period, plain ``scancel``: SIGTERM, then SIGKILL after the
  cluster's ``KillWait``.
- With one, SIGTERM to the job's steps only (``scancel --signal=TERM``, the
  job is not cancelled yet, so it can still be signalled), and SIGKILL to
  each of its steps once the grace has passed, then ``scancel``. So an
  override honours its own length whatever KillWait is.

Either way the task shells outlive SIGTERM (see ``script``), so a
process that ignores it is still in the job's process tree when the
SIGKILL comes, on proctrack/linuxproc as on pgid or cgroup clusters.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable

from torchrun_core.errors import BackendError
from torchrun_core.schedulers.slurm.script import CANCEL_FILE, SCRIPT_NAME
from torchrun_core.schedulers.slurm.ssh_transport import Transport

_POLL_S = 0.5
# How long a cancel waits for Slurm to finish stopping the job (KillWait,
# epilogs), after which it says so instead of hanging.
STOP_TIMEOUT_S = 180.0


def scancel(transport: Transport, app_id: str, *flags: str, prefix: str = "") -> None:
    """``[prefix] scancel [flags] app_id``; BackendError when it fails."""
    command = " ".join(["scancel", *flags, shlex.quote(app_id)])
    done = transport.run(prefix + command, rerun_on_drop=True)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise BackendError(
            f"{command} failed: {lines[0][:300] if lines else '(no output)'}",
            scheduler="slurm",
            app_id=app_id,
        )


def stop_app(
    transport: Transport,
    app_id: str,
    job_dir: str,
    grace_period: float | None,
    is_live: Callable[[], bool],
) -> None:
    """Cancel the job and return once nothing of it runs (see the module's docstring).

    Raises:
        BackendError: scancel failed, or Slurm still ran the job after
            :data:`STOP_TIMEOUT_S` seconds.
    """
    mark = f"touch {shlex.quote(job_dir + '/' + CANCEL_FILE)} 2>/dev/null; " if job_dir else ""
    if grace_period is None:
        scancel(transport, app_id, prefix=mark)
    else:
        quoted = shlex.quote(app_id)
        # A pending job cannot be signalled: cancelling it is all there is to do.
        transport.run(
            f"{mark}scancel --signal=TERM {quoted} 2>/dev/null || scancel {quoted}",
            rerun_on_drop=True,
        )
        _poll_while_live(is_live, grace_period)
        if is_live():
            # SIGKILL to each step by its id: a job-wide --full signal can end
            # the batch script first, and then the steps' tasks wait for the
            # job's termination, i.e. KillWait, seen on a pgid cluster.
            transport.run(_KILL_STEPS.format(job=quoted), rerun_on_drop=True)
            _poll_while_live(is_live, _STEPS_GONE_S)  # the batch script then ends by itself
        scancel(transport, app_id)
    _await_stopped(app_id, is_live)


# The job's steps but the batch and extern ones, each sent SIGKILL.
_KILL_STEPS = (
    "for s in $(squeue -h -s -j {job} -o %i 2>/dev/null); do "
    'case "$s" in *.batch|*.extern) ;; *) scancel --signal=KILL "$s" 2>/dev/null ;; esac; '
    "done; true"
)
# How long the batch script gets to end by itself once its steps are killed.
_STEPS_GONE_S = 5.0


def _poll_while_live(is_live: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + max(0.0, seconds)
    while (left := deadline - time.monotonic()) > 0 and is_live():
        time.sleep(min(_POLL_S, left))


def _await_stopped(app_id: str, is_live: Callable[[], bool]) -> None:
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while is_live():
        if time.monotonic() > deadline:
            raise BackendError(
                f"slurm job {app_id} is still stopping after {STOP_TIMEOUT_S:g} s",
                hint="squeue shows it COMPLETING: a node may not answer (see scontrol show job)",
                scheduler="slurm",
                app_id=app_id,
            )
        time.sleep(_POLL_S)


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
