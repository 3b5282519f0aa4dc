"""The per-app supervisor of a docker app: retries failed replicas and ends failed apps.

Docker restarts a container in place, which would lose each attempt's exit
code and logs, and knows nothing of roles or apps. So an app with retries
(or with more than one replica) gets this small detached process::

    python -m torchrun_core.schedulers.docker.supervisor <app dir> <lock fd>  < plan.json

It inherits the app's supervisor lock (an open, flocked file), already taken by the launcher before
any container started (so that no status read ever sees a retryable failure
without a live supervisor), and watches the app's container events. On a
failure it applies the role's retry policy with the role's budget, as the
local scheduler does: REPLICA recreates the failed replica, ROLE its role,
APPLICATION every replica. A retried container is renamed
``<name>-attempt<N>`` and kept, stopped, for its logs; the new one takes the
stable name, hostname and alias, with ``torchrun_core.attempt`` one higher.
When no retry is left, the survivors are stopped and the app is FAILED.
When a retry cannot start (its network was removed, say), the daemon's
reason goes to the app's ``failed`` file, which makes the app FAILED, and
the supervisor stops the rest. It exits when the app ends, is cancelled
(``cancel`` file) or is removed; cancel waits for it to exit, then removes
whatever a retry made meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchrun_core.errors import TorchrunCoreError
from torchrun_core.schedulers.docker.appdir import CANCEL_FILE, FAILED_FILE, AppDir
from torchrun_core.schedulers.docker.launch import app_filters, create, each, start
from torchrun_core.schedulers.docker.plan import (
    ATTEMPT_ENV,
    LABEL_ATTEMPT,
    ContainerSpec,
    DockerPlan,
)
from torchrun_core.schedulers.docker.state import AppView, ReplicaView, app_view
from torchrun_core.schedulers.docker.watch import EventWatcher
from torchrun_core.schedulers.shared.docker_daemon import connect, daemon_address, translated
from torchrun_core.specs.state import AppState

if TYPE_CHECKING:
    from docker import APIClient

# Re-read the containers at least this often, should an event be missed.
_POLL_S = 30.0


class Supervisor:
    """Keeps one app to its retry policy until it ends."""

    def __init__(self, client: APIClient, plan: DockerPlan, app_dir: AppDir) -> None:
        self.client = client
        self.address = daemon_address(plan.host)
        self.plan = plan
        self.app_dir = app_dir
        self.specs = {(c.role, c.replica_id): c for c in plan.containers}

    def run(self) -> None:
        with EventWatcher(self.client, self.address, self.plan.app_id, self.plan.session) as w:
            while self.step():
                w.wait(_POLL_S)

    def step(self) -> bool:
        """Act on the app's state once; False when there is nothing more to do."""
        if self.app_dir.exists(CANCEL_FILE):
            return False
        with translated(self.address, "list containers"):
            containers = self.client.containers(
                all=True, filters=app_filters(self.plan.app_id, self.plan.session)
            )
        view = app_view(self.plan.app_id, containers, supervised=lambda: True)
        if view is None:
            return False
        if not view.failed:
            return not view.state.is_terminal
        if view.state is AppState.RUNNING:  # app_view found every failed role retryable
            return self.retry(view)
        self.stop_all(view)
        return False

    def retry(self, view: AppView) -> bool:
        """Recreate the failed replicas and those their policy restarts with them.

        Returns False when the retry could not start: the app is then FAILED.
        """
        targets: dict[tuple[str, int], ReplicaView] = {}
        for failed in view.failed:
            role = view.role(failed.role)
            assert role is not None
            if role.retry_policy == "APPLICATION":
                chosen = [r for rv in view.roles for r in rv.replicas]
            elif role.retry_policy == "ROLE":
                chosen = role.replicas
            else:
                chosen = [failed]
            targets.update({(r.role, r.replica_id): r for r in chosen})
        self._log(f"retrying {', '.join(r.name for r in targets.values())}")
        each(self._stop, [r for r in targets.values() if r.state is AppState.RUNNING])
        if self.app_dir.exists(CANCEL_FILE):
            return True  # the next step sees it
        try:
            fresh = [self._recreate(r) for r in targets.values()]
            each(lambda pair: start(self.client, self.address, *pair), fresh)
        except TorchrunCoreError as err:  # its network gone, a mount gone, the daemon...
            names = ", ".join(r.name for r in targets.values())
            self.give_up(f"{names} could not be restarted: {err}")
            return False
        return True

    def give_up(self, reason: str) -> None:
        """Record the app FAILED with ``reason``, then stop what runs and remove what never ran.

        The file comes first: the removals make the events that wake the
        app's watchers (a failed start makes none), who must then read FAILED.
        """
        try:
            self.app_dir.write(FAILED_FILE, reason)
        except OSError as err:  # still FAILED: its failed replica, with no supervisor left
            self._log(f"cannot record the failure: {err}")
        self._log(reason)
        filters = app_filters(self.plan.app_id, self.plan.session)
        with contextlib.suppress(TorchrunCoreError), translated(self.address, "list containers"):
            each(self._end, self.client.containers(all=True, filters=filters))

    def _end(self, container: dict[str, Any]) -> None:
        """Stop a running container, remove one that never started; errors are logged only."""
        try:
            with translated(self.address, f"end container {container['Id'][:12]}"):
                if container.get("State") == "running":
                    self.client.stop(container["Id"], timeout=self.plan.grace_period)
                elif container.get("State") == "created":
                    self.client.remove_container(container["Id"], force=True)
        except TorchrunCoreError as err:
            self._log(str(err))

    def _recreate(self, replica: ReplicaView) -> tuple[str, ContainerSpec]:
        spec = self.specs[(replica.role, replica.replica_id)]
        attempt = replica.attempt + 1
        if replica.container is not None:
            with translated(self.address, f"rename container {spec.name}"):
                self.client.rename(replica.container["Id"], f"{spec.name}-attempt{replica.attempt}")
        env = [e for e in spec.body["Env"] if not e.startswith(f"{ATTEMPT_ENV}=")]
        body = {
            **spec.body,
            "Env": [*env, f"{ATTEMPT_ENV}={attempt}"],
            "Labels": {**spec.body["Labels"], LABEL_ATTEMPT: str(attempt)},
        }
        fresh = ContainerSpec(spec.name, spec.role, spec.replica_id, spec.hostname, body)
        return create(self.client, self.address, fresh), fresh

    def stop_all(self, view: AppView) -> None:
        """The app failed for good: stop whatever still runs."""
        live = [r for rv in view.roles for r in rv.replicas if r.state is AppState.RUNNING]
        if live:
            self._log(f"app failed ({view.message}); stopping {', '.join(r.name for r in live)}")
        each(self._stop, live)

    def _stop(self, replica: ReplicaView) -> None:
        assert replica.container is not None
        with translated(self.address, f"stop {replica.name}"):
            self.client.stop(replica.container["Id"], timeout=self.plan.grace_period)

    def _log(self, message: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        # supervisor.log is for people: a full disk must not stop the retries.
        with contextlib.suppress(OSError):
            sys.stderr.write(f"{stamp} {self.plan.app_id}: {message}\n")
            sys.stderr.flush()


def main(argv: list[str]) -> int:
    """``<app dir> <lock fd>``, the plan as JSON on stdin."""
    app_path, lock_fd = Path(argv[0]), int(argv[1])
    data: dict[str, Any] = json.load(sys.stdin)
    plan = DockerPlan.from_dict(data)
    app_dir = AppDir(app_path.parent, plan.app_id)
    _ = lock_fd  # held open, and so locked, until this process exits
    try:
        Supervisor(connect(plan.host), plan, app_dir).run()
    except Exception as err:  # one line in the log; the app's state tells the rest
        sys.stderr.write(f"{plan.app_id}: supervisor stopped: {type(err).__name__}: {err}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
