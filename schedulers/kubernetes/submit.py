"""Creating an app's objects, and deleting them (cancel)."""

from __future__ import annotations

import math
import time
from typing import Any

from torchrun_core.errors import BackendError
from torchrun_core.schedulers.kubernetes.client import (
    JOBSET_GROUP,
    JOBSET_PLURAL,
    JOBSET_VERSION,
    Target,
    items,
)
from torchrun_core.schedulers.kubernetes.errors import REQUEST_TIMEOUT, translated
from torchrun_core.schedulers.kubernetes.manifests import LABEL_APP

# How long a cancel with a grace period waits for the Jobs to let go of their
# pods before deleting the pods anyway.
_ORPHANING_S = 10.0


def _name(manifest: dict[str, Any]) -> str:
    return f"{manifest['kind']} {manifest['metadata']['name']}"


def create_all(client: Any, target: Target, manifests: list[dict[str, Any]]) -> None:
    """Create every manifest in order; on a failure, delete what was made and raise."""
    from kubernetes.client import BatchV1Api, CoreV1Api, CustomObjectsApi

    # Any: the typed signatures want models; the API takes plain dicts just as well.
    batch: Any = BatchV1Api(client)
    core: Any = CoreV1Api(client)
    custom: Any = CustomObjectsApi(client)
    ns = target.namespace
    made: list[dict[str, Any]] = []
    try:
        for manifest in manifests:
            with translated(f"create {_name(manifest)}"):
                kind = manifest["kind"]
                if kind == "Job":
                    batch.create_namespaced_job(ns, manifest, _preload_content=False)
                elif kind == "Service":
                    core.create_namespaced_service(ns, manifest, _preload_content=False)
                else:
                    custom.create_namespaced_custom_object(
                        JOBSET_GROUP, JOBSET_VERSION, ns, JOBSET_PLURAL, manifest,
                        _preload_content=False,
                    )  # fmt: skip
            made.append(manifest)
    except Exception:
        # Half an app is worse than none: a 422 on replica 5 must not leave 0-4 running.
        if made:
            delete_all(client, target, manifests[0]["metadata"]["labels"][LABEL_APP])
        raise


def delete_all(client: Any, target: Target, app_id: str, grace_period: float | None = None) -> None:
    """Delete the app's Jobs, pods, Service and JobSet; 404s are fine.

    Without ``grace_period`` the Jobs go with foreground propagation: the
    garbage collector deletes their pods with the pods' own grace period.
    With it, see :func:`_delete_with_grace`.
    """
    from kubernetes.client import BatchV1Api, CoreV1Api, CustomObjectsApi
    from kubernetes.client.exceptions import ApiException

    ns = target.namespace
    selector = f"{LABEL_APP}={app_id}"
    with translated(f"cancel {app_id}"):
        if grace_period is None:
            BatchV1Api(client).delete_collection_namespaced_job(
                ns, label_selector=selector, propagation_policy="Foreground",
                _preload_content=False, _request_timeout=REQUEST_TIMEOUT,
            )  # fmt: skip
        else:
            _delete_with_grace(client, ns, selector, grace_period)
        try:
            CoreV1Api(client).delete_namespaced_service(app_id, ns, _preload_content=False)
        except ApiException as err:
            if err.status != 404:
                raise
        if target.jobset:
            try:
                CustomObjectsApi(client).delete_namespaced_custom_object(
                    JOBSET_GROUP, JOBSET_VERSION, ns, JOBSET_PLURAL, app_id,
                    propagation_policy="Foreground", _preload_content=False,
                )  # fmt: skip
            except ApiException as err:
                if err.status != 404:
                    raise


def _delete_with_grace(client: Any, ns: str, selector: str, grace_period: float) -> None:
    """Delete the Jobs orphaning their pods, then the pods with ``grace_period``.

    A kubelet kills a pod with the grace period of the first delete it sees
    (1.20 ignores a shorter one sent later), so that delete must be this one:
    with foreground propagation the garbage collector's delete, carrying the
    pod's own grace period, often came first and the override was lost (a
    5 s cancel took 30 s and more). A deleted pod whose Job is gone is not
    made again.
    """
    from kubernetes.client import BatchV1Api, CoreV1Api

    batch = BatchV1Api(client)
    batch.delete_collection_namespaced_job(
        ns, label_selector=selector, propagation_policy="Orphan",
        _preload_content=False, _request_timeout=REQUEST_TIMEOUT,
    )  # fmt: skip
    deadline = time.monotonic() + _ORPHANING_S
    delay = 0.05
    while _orphaning(batch, ns, selector):
        if time.monotonic() > deadline:
            # Not let go in time: a pod the Job controller makes meanwhile must
            # not outlive the Job, so the Jobs go as without a grace period.
            batch.delete_collection_namespaced_job(
                ns, label_selector=selector, propagation_policy="Foreground",
                _preload_content=False, _request_timeout=REQUEST_TIMEOUT,
            )  # fmt: skip
            break
        time.sleep(delay)  # the garbage collector is orphaning the pods (~0.5 s)
        delay = min(delay * 2, 0.5)
    CoreV1Api(client).delete_collection_namespaced_pod(
        ns, label_selector=selector, grace_period_seconds=math.ceil(grace_period),
        _preload_content=False, _request_timeout=REQUEST_TIMEOUT,
    )  # fmt: skip


def _orphaning(batch: Any, ns: str, selector: str) -> bool:
    """Whether a Job of the app still holds pods that it will let go.

    A Job that was being deleted in the foreground already (a failed app's
    sibling) keeps its pods until they are gone: waiting for it is no use.
    """
    jobs = items(batch.list_namespaced_job(ns, label_selector=selector,
        _preload_content=False, _request_timeout=REQUEST_TIMEOUT))  # fmt: skip
    return any("foregroundDeletion" not in (j["metadata"].get("finalizers") or []) for j in jobs)


def delete_jobs(client: Any, target: Target, names: list[str]) -> None:
    """Delete the named Jobs with foreground propagation (one call each); 404s are fine."""
    from kubernetes.client import BatchV1Api
    from kubernetes.client.exceptions import ApiException

    batch = BatchV1Api(client)
    for name in names:
        with translated(f"stop Job {name}"):
            try:
                batch.delete_namespaced_job(
                    name, target.namespace, propagation_policy="Foreground",
                    _preload_content=False, _request_timeout=REQUEST_TIMEOUT,
                )  # fmt: skip
            except ApiException as err:
                if err.status != 404:
                    raise


def wait_deleted(client: Any, target: Target, app_id: str, timeout_s: float = 60.0) -> None:
    """Return once no Job or pod of the app is left (deletion is asynchronous).

    ``delete`` promises that nothing of the app remains when it returns, as
    ``kubectl delete`` waits by default; foreground propagation keeps a Job
    until its pods are gone.

    Raises:
        BackendError: objects were still there after ``timeout_s``.
    """
    from kubernetes.client import BatchV1Api, CoreV1Api

    selector = f"{LABEL_APP}={app_id}"
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    with translated(f"delete {app_id}"):
        while True:
            left = [
                *items(BatchV1Api(client).list_namespaced_job(
                    target.namespace, label_selector=selector, _preload_content=False)),
                *items(CoreV1Api(client).list_namespaced_pod(
                    target.namespace, label_selector=selector, _preload_content=False)),
            ]  # fmt: skip
            if not left:
                return
            if time.monotonic() > deadline:
                names = ", ".join(o["metadata"]["name"] for o in left[:5])
                raise BackendError(
                    f"kubernetes app {app_id}: still being deleted after {timeout_s:g}s: {names}",
                    hint="finalizers may hold them; check with kubectl get jobs,pods -l "
                    f"{selector}",
                )
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
