"""The ``docker`` scheduler: each replica is a container, on one network per app.

What an app is lives on the daemon, in its containers' labels (app id,
session, role, replica, attempt, retry settings): ``describe`` and ``list``
are one labelled container list each, from any process. This machine keeps
only what labels cannot say (see ``appdir``). The SDK is imported when
a daemon is first needed, never for a dry run.
"""

from __future__ import annotations

import functools
import json
import math
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from torchrun_core.errors import AppNotFoundError, InvalidInputError, InvalidOptionError
from torchrun_core.scheduler import (
    ListedApp,
    Scheduler,
    Stream,
    TrackerRoot,
    Watcher,
    mounts_path,
)
from torchrun_core.schedulers.docker.appdir import (
    CANCEL_FILE,
    FAILED_FILE,
    HOST_FILE,
    AppDir,
    session_dir,
)
from torchrun_core.schedulers.docker.launch import app_filters
from torchrun_core.schedulers.docker.options import DockerOptions
from torchrun_core.schedulers.docker.plan import (
    LABEL_ATTEMPT,
    LABEL_GRACE,
    LABEL_REPLICA,
    LABEL_ROLE,
    LABEL_SESSION,
    DockerPlan,
    build_plan,
    new_app_id,
)
from torchrun_core.schedulers.docker.plan_text import format_plan
from torchrun_core.schedulers.docker.state import AppView, app_view, group_by_app, status_dict
from torchrun_core.schedulers.shared.docker_daemon import (
    connect,
    daemon_address,
    on_this_machine,
    translated,
)
from torchrun_core.specs.app import AppDef
from torchrun_core.specs.dryrun import AppDryRunInfo
from torchrun_core.specs.status import AppStatus, mark_stopped_siblings

if TYPE_CHECKING:
    from docker import APIClient

    from torchrun_core.schedulers.docker.logs import AttemptContainer

_STREAMS = {Stream.STDOUT: (True, False), Stream.STDERR: (False, True)}
# How long cancel waits for a supervisor to notice, beyond the grace period.
_SUPERVISOR_SLACK_S = 10.0


class DockerScheduler(Scheduler[DockerOptions]):
    """Runs each replica as a docker container, one network per app."""

    Options = DockerOptions

    def __init__(
        self,
        session: str = "default",
        host: str | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        **params: Any,
    ) -> None:
        """Args: ``host``, the daemon to observe apps on (default: the environment's);
        ``state_dir`` overrides where the few local facts are kept.

        Raises:
            InvalidOptionError: for any other parameter.
        """
        if params:
            raise InvalidOptionError(
                f"docker scheduler: unknown parameter(s) {', '.join(sorted(params))}",
                hint="the docker scheduler takes the parameters host and state_dir",
                scheduler="docker",
            )
        super().__init__("docker", session)
        self.host = host
        self._state_dir = state_dir
        self._clients: dict[str, APIClient] = {}
        self._lock = threading.Lock()

    # -- plumbing -------------------------------------------------------------
    def client(self, host: str | None = None) -> tuple[APIClient, str]:
        """A client of daemon ``host`` (default: this scheduler's), made once, and its address."""
        address = daemon_address(host or self.host)
        with self._lock:
            client = self._clients.get(address)
            if client is None:
                client = self._clients[address] = connect(address)
        return client, address

    def app_dir(self, app_id: str) -> AppDir | None:
        """The app's local files, None for an id that cannot name an app."""
        try:
            return AppDir(session_dir(self._state_dir, self.session), app_id)
        except ValueError:
            return None

    def _app_client(self, app_id: str) -> tuple[APIClient, str]:
        app_dir = self.app_dir(app_id)
        host = app_dir.read(HOST_FILE) if app_dir is not None else None
        return self.client(host or None)

    def _containers(self, app_id: str, *labels: str) -> list[dict[str, Any]]:
        """The list entries of the app's containers (with ``labels`` too), in one call."""
        client, address = self._app_client(app_id)
        filters = app_filters(app_id, self.session)
        filters["label"] += labels
        with translated(address, f"list the containers of {app_id}"):
            found: list[dict[str, Any]] = client.containers(all=True, filters=filters)
        return found

    def _view(self, app_id: str) -> AppView | None:
        app_dir = self.app_dir(app_id)
        if app_dir is None:
            return None
        return app_view(
            app_id,
            self._containers(app_id),
            supervised=app_dir.supervised,
            cancelling=app_dir.exists(CANCEL_FILE),
            failure=app_dir.read(FAILED_FILE),
        )

    # -- submission -----------------------------------------------------------
    def tracker_root(
        self, root: str, app: AppDef, options: DockerOptions, default: bool
    ) -> TrackerRoot:
        """The file tracker's root, bind-mounted at the same path from a daemon on this machine.

        So the containers write where ``metrics`` reads. A daemon elsewhere
        would mount its own host's path: the tracker is off there, unless
        every role mounts a directory holding the root itself.
        """
        address = daemon_address(options.host or self.host)
        if mounts_path(app, root):
            return TrackerRoot(root)
        if on_this_machine(address):
            return TrackerRoot(root, mount=True)
        return TrackerRoot(
            None,
            notice=f"the file tracker is off: containers on {address} do not see {root} "
            "(mount a volume there in every role, and set [trackers.file] config to it)",
        )

    def _dryrun(self, app: AppDef, options: DockerOptions) -> AppDryRunInfo[DockerPlan]:
        app_id = new_app_id(app.name)
        if options.host is None and self.host is not None:  # the plan names its daemon
            options = options.model_copy(update={"host": self.host})
        plan = build_plan(app, options, app_id=app_id, session=self.session, environ=os.environ)
        return self._dryrun_info(app, plan, options, format_plan, app_id)

    def _schedule(self, dryrun_info: AppDryRunInfo[Any]) -> str:
        plan = self._request_of(dryrun_info, DockerPlan)
        from torchrun_core.schedulers.docker.launch import launch

        client, address = self.client(plan.host)
        app_dir = self.app_dir(plan.app_id)
        assert app_dir is not None  # new_app_id makes valid ids
        if address != daemon_address(self.host):
            app_dir.write(HOST_FILE, address)
        lock_fd = app_dir.take_lock() if plan.needs_supervisor else None
        try:
            launch(client, address, plan)
            if lock_fd is not None:
                _spawn_supervisor(plan, app_dir, lock_fd)
        except BaseException:
            app_dir.remove()
            raise
        finally:
            if lock_fd is not None:
                os.close(lock_fd)  # the supervisor holds it now
        return plan.app_id

    # -- observation ----------------------------------------------------------
    def _describe(self, app_id: str) -> AppStatus | None:
        view = self._view(app_id)
        if view is None:
            return None
        status = AppStatus.model_validate(status_dict(view, f"docker://{self.session}/{app_id}"))
        # The supervisor stops a failed app's survivors: they exit 143 or 137, not failing.
        return mark_stopped_siblings(status)

    def watch(self, app_id: str) -> AbstractContextManager[Watcher]:
        """A watcher woken by the daemon's events for the app's containers."""
        from torchrun_core.schedulers.docker.watch import EventWatcher

        client, address = self._app_client(app_id)
        return EventWatcher(client, address, app_id, self.session)

    def _list(self) -> list[ListedApp]:
        client, address = self.client()
        with translated(address, "list containers"):
            found = client.containers(
                all=True, filters={"label": f"{LABEL_SESSION}={self.session}"}
            )
        views = []
        for app_id, containers in group_by_app(found).items():
            app_dir = self.app_dir(app_id)
            if app_dir is None:
                continue
            view = app_view(
                app_id,
                containers,
                app_dir.supervised,
                app_dir.exists(CANCEL_FILE),
                app_dir.read(FAILED_FILE),
            )
            if view is not None:
                views.append(view)
        views.sort(key=lambda v: (v.created_at or 0.0, v.app_id))
        return [ListedApp(v.app_id, v.state, v.app_name) for v in views]

    def _log_iter(
        self,
        app_id: str,
        role_name: str,
        k: int,
        since: float | None,
        until: float | None,
        should_tail: bool,
        streams: Stream,
        attempt: int | None,
    ) -> Iterator[str]:
        from torchrun_core.schedulers.docker.logs import replica_lines

        view = self._view(app_id)
        if view is None:
            raise AppNotFoundError(f"no docker app {app_id!r}", app_id=app_id)
        _check_replica(view, app_id, role_name, k, attempt)
        client, address = self._app_client(app_id)

        def containers() -> list[AttemptContainer]:
            return self._replica_containers(app_id, role_name, k)

        def app_done() -> bool:
            now = self._view(app_id)
            return now is None or now.state.is_terminal

        read = functools.partial(
            replica_lines, client, address, containers, app_done,
            _STREAMS.get(streams, (True, True)), (since, until),
        )  # fmt: skip
        if not should_tail:
            return read(False, attempt)
        return self._followed(app_id, read, attempt)

    def _followed(
        self, app_id: str, read: Callable[..., Iterator[str]], attempt: int | None
    ) -> Iterator[str]:
        with self.watch(app_id) as watcher:
            yield from read(True, attempt, pause=watcher.wait)

    def _replica_containers(self, app_id: str, role: str, k: int) -> list[AttemptContainer]:
        from torchrun_core.schedulers.docker.logs import AttemptContainer

        found = self._containers(app_id, f"{LABEL_ROLE}={role}", f"{LABEL_REPLICA}={k}")
        out = [
            AttemptContainer(int(c["Labels"].get(LABEL_ATTEMPT, 0)), c["Id"], c.get("State", ""))
            for c in found
        ]
        return sorted(out, key=lambda c: c.attempt)

    # -- control --------------------------------------------------------------
    def cancel(self, app_id: str, grace_period: float | None = None) -> None:
        """Stop the app's containers (SIGTERM, SIGKILL after the grace period), then
        remove them and its network. A finished app's containers are removed too.

        ``grace_period`` overrides the app's (rounded up to whole seconds, as
        docker stops take them).

        Raises:
            AppNotFoundError: the app has no container left.
        """
        if self.app_dir(app_id) is None or not self._containers(app_id):
            raise AppNotFoundError(f"no docker app {app_id!r}", app_id=app_id)
        self._cancel_with_grace(app_id, grace_period)

    def delete(self, app_id: str, grace_period: float | None = None) -> None:
        """Cancel the app (its containers and network go), then forget its local files.

        Raises:
            AppNotFoundError: neither a container nor a local file of the app is left.
        """
        app_dir = self.app_dir(app_id)
        if app_dir is None:
            raise AppNotFoundError(f"no docker app {app_id!r}", app_id=app_id)
        if self._containers(app_id):
            self._cancel_with_grace(app_id, grace_period)
        elif not self._remove_networks(app_id) and not app_dir.path.exists():
            raise AppNotFoundError(f"no docker app {app_id!r}", app_id=app_id)
        app_dir.remove()  # the host file too: nothing is left to look for

    def _remove_networks(self, app_id: str) -> int:
        """Remove a network left without containers (a launch cut short); how many there were."""
        from torchrun_core.schedulers.docker.launch import remove_networks

        client, address = self._app_client(app_id)
        return remove_networks(client, address, app_id, self.session)

    def _cancel(self, app_id: str) -> None:
        self._cancel_with_grace(app_id, None)

    def _cancel_with_grace(self, app_id: str, grace_period: float | None) -> None:
        from torchrun_core.schedulers.docker.launch import remove_app

        app_dir = self.app_dir(app_id)
        assert app_dir is not None
        containers = self._containers(app_id)
        if grace_period is None:
            grace = max((int(c["Labels"].get(LABEL_GRACE, 10)) for c in containers), default=10)
        else:
            grace = math.ceil(grace_period)
        client, address = self._app_client(app_id)
        app_dir.write(CANCEL_FILE, "")  # status reads say CANCELLED; no retry starts now
        remove_app(client, address, app_id, self.session, grace)
        # A retry under way may have made containers after that listing: once the
        # supervisor has seen the cancel file and exited, remove those too.
        if app_dir.supervised():
            app_dir.wait_unsupervised(grace + _SUPERVISOR_SLACK_S)
            remove_app(client, address, app_id, self.session, grace)
        app_dir.remove(keep_host=True)  # later reads find it gone on the right daemon

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


def _check_replica(view: AppView, app_id: str, role_name: str, k: int, attempt: int | None) -> None:
    role = view.role(role_name)
    if role is None:
        names = ", ".join(r.name for r in view.roles)
        raise InvalidInputError(f"app {app_id} has no role {role_name!r}; roles: {names}")
    if not 0 <= k < role.num_replicas:
        raise InvalidInputError(
            f"role {role_name!r} of {app_id} has no replica {k}; "
            f"replicas: 0..{role.num_replicas - 1}"
        )
    current = role.replicas[k].attempt
    if attempt is not None and not 0 <= attempt <= current:
        raise InvalidInputError(
            f"replica {role_name}/{k} of {app_id} has no attempt {attempt}; "
            f"attempts so far: 0..{current}"
        )


def _spawn_supervisor(plan: DockerPlan, app_dir: AppDir, lock_fd: int) -> None:
    """Start the app's detached supervisor, handing it the lock and the plan."""
    with open(app_dir.path / "supervisor.log", "ab") as log:  # the child keeps its own fd
        proc = subprocess.Popen(
            [sys.executable, "-m", "torchrun_core.schedulers.docker.supervisor",
             str(app_dir.path), str(lock_fd)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log,
            pass_fds=(lock_fd,), start_new_session=True,
        )  # fmt: skip
    assert proc.stdin is not None
    with proc.stdin:
        proc.stdin.write(json.dumps(plan.to_dict(redact=False)).encode())
