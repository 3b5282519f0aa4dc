"""The ``kubernetes`` scheduler: plain batch/v1 Jobs and a headless Service, no Volcano.

An app is its labelled objects on the cluster: ``describe`` is two list calls
(the app's Jobs and Pods, by label), ``list`` one, from any process. This
machine keeps only where each app went (namespace, kubeconfig, context) so
that another process finds it. The SDK is imported when a cluster is first
contacted, never for a dry run.
"""

from __future__ import annotations

import builtins
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from torchrun_core.errors import AppNotFoundError, InvalidOptionError
from torchrun_core.scheduler import ListedApp, Scheduler, Stream, TrackerRoot, Watcher, mounts_path
from torchrun_core.schedulers.kubernetes.capability import ServerCapabilities
from torchrun_core.schedulers.kubernetes.client import Target, TargetBook, connect, items
from torchrun_core.schedulers.kubernetes.errors import REQUEST_TIMEOUT, translated
from torchrun_core.schedulers.kubernetes.manifests import (
    LABEL_APP,
    LABEL_SESSION,
    new_app_id,
)
from torchrun_core.schedulers.kubernetes.options import KubernetesOptions
from torchrun_core.schedulers.kubernetes.plan import build_manifests
from torchrun_core.schedulers.kubernetes.state import (
    app_name,
    app_status,
    group_jobs,
    jobs_to_stop,
)
from torchrun_core.schedulers.kubernetes.text import format_manifests
from torchrun_core.specs.app import AppDef
from torchrun_core.specs.dryrun import AppDryRunInfo
from torchrun_core.specs.state import AppState
from torchrun_core.specs.status import AppStatus

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


class KubernetesScheduler(Scheduler[KubernetesOptions]):
    """Runs each replica as a one-pod batch/v1 Job (or one JobSet with ``jobset``)."""

    Options = KubernetesOptions

    def __init__(
        self,
        session: str = "default",
        namespace: str = "default",
        kubeconfig: str | None = None,
        context: str | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        **params: Any,
    ) -> None:
        """Args: the cluster and namespace to look for apps this machine did not submit;
        ``state_dir`` overrides where submitted apps' targets are kept.

        Raises:
            InvalidOptionError: for any other parameter.
        """
        if params:
            raise InvalidOptionError(
                f"kubernetes scheduler: unknown parameter(s) {', '.join(sorted(params))}",
                hint="it takes the parameters namespace, kubeconfig, context and state_dir",
                scheduler="kubernetes",
            )
        super().__init__("kubernetes", session)
        self.default_target = Target(namespace, kubeconfig, context)
        if state_dir is None:
            from torchrun_core.paths import state_dir as default_state_dir

            state_dir = default_state_dir()
        self.book = TargetBook(Path(state_dir) / "kubernetes" / session)
        self._clients: dict[tuple[str | None, str | None], ApiClient] = {}
        self._lock = threading.Lock()
        self.capabilities = ServerCapabilities()
        self.api_calls = 0  # counted for the benchmarks

    # -- plumbing -------------------------------------------------------------
    def client(self, target: Target) -> ApiClient:
        """The API client of ``target``'s cluster, made once."""
        key = (target.kubeconfig, target.context)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = connect(target)
            return self._clients[key]

    def target(self, app_id: str) -> Target:
        """Where ``app_id`` went, or this scheduler's default target."""
        return self.book.load(app_id) or self.default_target

    def _apis(self, target: Target) -> tuple[Any, Any]:
        from kubernetes.client import BatchV1Api, CoreV1Api

        api = self.client(target)
        return BatchV1Api(api), CoreV1Api(api)

    def _objects(self, app_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The app's Jobs and Pods: two list calls whatever its size."""
        target = self.target(app_id)
        batch, core = self._apis(target)
        selector = f"{LABEL_APP}={app_id}"
        with translated(f"status of {app_id}"):
            jobs = items(batch.list_namespaced_job(target.namespace, label_selector=selector,
                _preload_content=False, _request_timeout=REQUEST_TIMEOUT))  # fmt: skip
            pods = items(core.list_namespaced_pod(target.namespace, label_selector=selector,
                _preload_content=False, _request_timeout=REQUEST_TIMEOUT))  # fmt: skip
        self.api_calls += 2
        return jobs, pods

    # -- Scheduler ------------------------------------------------------------
    def tracker_root(
        self, root: str, app: AppDef, options: KubernetesOptions, default: bool
    ) -> TrackerRoot:
        """The file tracker's root if every role mounts it (a shared volume); else off.

        Pods run on the cluster's nodes, which do not see this machine's files.
        """
        if mounts_path(app, root):
            return TrackerRoot(root)
        return TrackerRoot(
            None,
            notice=f"the file tracker is off: pods do not see {root} (mount a shared volume "
            "in every role, and set [trackers.file] config to a path in it)",
        )

    def _dryrun(self, app: AppDef, options: KubernetesOptions) -> AppDryRunInfo[Any]:
        app_id = new_app_id(app.name)
        manifests = build_manifests(app, options, app_id=app_id, session=self.session)
        request = {"target": Target(options.namespace, options.kubeconfig, options.context,
                                    options.jobset), "manifests": manifests}  # fmt: skip
        return self._dryrun_info(app, request, options, format_manifests, app_id)

    def _schedule(self, dryrun_info: AppDryRunInfo[Any]) -> str:
        from torchrun_core.schedulers.kubernetes.submit import create_all

        request = dryrun_info.request
        target: Target = request["target"]
        app_id = str(dryrun_info.app_id)
        key = (target.kubeconfig, target.context)
        self.capabilities.check_suspend(  # before anything is made or recorded
            self.client(target), key, target.namespace, request["manifests"]
        )
        self.book.save(app_id, target)
        create_all(self.client(target), target, request["manifests"])
        self.api_calls += len(request["manifests"])
        return app_id

    def _describe(self, app_id: str) -> AppStatus | None:
        """The app's status; a FAILED app's surviving Jobs are deleted on the way.

        Plain Jobs fail one by one, so nothing else stops a failed replica's
        siblings: the first status read after the failure does. When nothing
        needs stopping this is two API calls; else one more per Job stopped.
        """
        jobs, pods = self._objects(app_id)
        status = app_status(jobs, pods)
        if status is None or status.state != AppState.FAILED:
            return status
        going = jobs_to_stop(jobs)
        if not going:
            return status
        from torchrun_core.schedulers.kubernetes.submit import delete_jobs

        target = self.target(app_id)
        delete_jobs(self.client(target), target, going)
        self.api_calls += len(going)
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        for job in jobs:  # as the next read will see them: being deleted
            if job["metadata"]["name"] in going:
                job["metadata"]["deletionTimestamp"] = now
        return app_status(jobs, pods)

    def cancel(self, app_id: str, grace_period: float | None = None) -> None:
        """Delete the app's objects (foreground: pods go first). Idempotent.

        Unlike the base class this also deletes an ended app's objects (its
        Service, its ended Jobs and pods), so ``delete`` needs nothing more.
        ``grace_period`` shortens the pods' termination grace period. Pods
        left without their Jobs (a cancel cut short) still count as the app.
        """
        jobs, pods = self._objects(app_id)
        if not jobs and not pods:
            raise AppNotFoundError(f"no kubernetes app {app_id!r}", app_id=app_id)
        self._cancel_with_grace(app_id, grace_period)

    def _cancel(self, app_id: str) -> None:
        self._cancel_with_grace(app_id, None)

    def _delete(self, app_id: str) -> None:
        """Wait until the app's Jobs and pods are gone (cancel already deleted everything)."""
        from torchrun_core.schedulers.kubernetes.submit import wait_deleted

        target = self.target(app_id)
        wait_deleted(self.client(target), target, app_id)

    def _cancel_with_grace(self, app_id: str, grace_period: float | None) -> None:
        from torchrun_core.schedulers.kubernetes.submit import delete_all

        target = self.target(app_id)
        delete_all(self.client(target), target, app_id, grace_period)

    def _list(self) -> builtins.list[ListedApp]:
        target = self.default_target
        batch, _ = self._apis(target)
        with translated("list"):
            jobs = items(batch.list_namespaced_job(
                target.namespace, label_selector=f"{LABEL_SESSION}={self.session}",
                _preload_content=False))  # fmt: skip
        out = []
        for app_id, app_jobs in sorted(group_jobs(jobs).items()):
            status = app_status(app_jobs, [])
            if status is not None:
                out.append(ListedApp(app_id, status.state, app_name(app_jobs)))
        return out

    def watch(self, app_id: str) -> AbstractContextManager[Watcher]:
        """A watcher woken by the watch API on the app's Jobs and Pods."""
        from torchrun_core.schedulers.kubernetes.watch import AppWatch

        target = self.target(app_id)
        return AppWatch(self.client(target), target.namespace, f"{LABEL_APP}={app_id}")

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
        from torchrun_core.schedulers.kubernetes.logs import replica_lines

        target = self.target(app_id)
        return replica_lines(
            self.client(target), target.namespace, app_id, role_name, k,
            since=since, until=until, follow=should_tail, streams=streams, attempt=attempt,
        )  # fmt: skip

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            cast(Any, client).close()
