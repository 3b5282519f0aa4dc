"""What a cluster's API server supports, found out once per scheduler and cluster.

Job ``spec.suspend`` (for Kueue's ``queue``) exists from Kubernetes 1.21 (behind
the SuspendJob feature gate, on by default from 1.22). An older server drops
the unknown field, or refuses it with field validation on, so the Jobs would
run at once instead of waiting for Kueue: ``schedule`` refuses them first.
"""

from __future__ import annotations

import threading
from typing import Any

from torchrun_core.errors import InvalidOptionError
from torchrun_core.schedulers.kubernetes.client import read_json
from torchrun_core.schedulers.kubernetes.errors import REQUEST_TIMEOUT, translated


class ServerCapabilities:
    """Answers about each cluster (by kubeconfig and context), asked at most once."""

    def __init__(self) -> None:
        self._keeps_suspend: dict[tuple[str | None, str | None], bool] = {}
        self._lock = threading.Lock()

    def check_suspend(
        self, client: Any, key: tuple[str | None, str | None], namespace: str,
        manifests: list[dict[str, Any]],
    ) -> None:  # fmt: skip
        """Refuse ``manifests`` if they hold a suspended Job and the server drops suspend.

        Nothing is created: the question is a server-side dry run of the first
        suspended Job, which shows whether the server keeps the field (a version
        alone cannot tell: on 1.21 it depends on a feature gate).

        Raises:
            InvalidOptionError: the server cannot hold Jobs suspended (``queue``).
        """
        suspended = [
            m for m in manifests if m.get("kind") == "Job" and (m.get("spec") or {}).get("suspend")
        ]
        if not suspended:
            return
        with self._lock:
            known = self._keeps_suspend.get(key)
        if known is None:
            known = _keeps_suspend(client, namespace, suspended[0])
            with self._lock:
                self._keeps_suspend[key] = known
        if not known:
            version = server_version(client)
            raise InvalidOptionError(
                f"kubernetes option 'queue': the cluster (Kubernetes {version}) cannot create "
                "Jobs suspended, so they would run at once instead of waiting for Kueue "
                "(Job suspend needs Kubernetes 1.22, or 1.21 with the SuspendJob feature gate)",
                hint="run without --cfg queue=..., or on a cluster with Job suspend and Kueue",
                option="queue",
                scheduler="kubernetes",
            )


def _keeps_suspend(client: Any, namespace: str, job: dict[str, Any]) -> bool:
    """Whether a dry-run create of ``job`` comes back with ``spec.suspend`` set."""
    from kubernetes.client import BatchV1Api

    batch: Any = BatchV1Api(client)  # a plain dict body: the typed signature wants a model
    with translated(f"check Job suspend ({job['metadata']['name']})"):
        try:
            answer = read_json(batch.create_namespaced_job(
                namespace, job, dry_run="All", _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT))  # fmt: skip
        except Exception as err:
            if getattr(err, "status", None) == 400 and "suspend" in str(getattr(err, "body", "")):
                return False  # field validation on: the server names the unknown field
            raise
    return bool(((answer or {}).get("spec") or {}).get("suspend"))


def server_version(client: Any) -> str:
    """The server's version (``v1.20.2``), or ``?`` when it does not say."""
    from kubernetes.client import VersionApi

    try:
        with translated("version"):
            info = read_json(VersionApi(client).get_code(_preload_content=False))
    except Exception:  # only decorates a message: never worth failing for
        return "?"
    return str((info or {}).get("gitVersion") or "?")
