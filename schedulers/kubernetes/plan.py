"""The kubernetes scheduler's dry run: every object of an app, in creation order.

Plain Jobs (``manifests``: one Job per replica and a headless Service) or,
with ``jobset``, one JobSet (``jobset``); this module only chooses.
"""

from __future__ import annotations

from typing import Any

from torchrun_core.schedulers.kubernetes.jobset import build_jobset
from torchrun_core.schedulers.kubernetes.manifests import (
    LABEL_APP,
    LABEL_APP_NAME,
    LABEL_SESSION,
    check_app,
    dns_label,
    role_jobs,
    role_stems,
    service,
)
from torchrun_core.schedulers.kubernetes.options import KubernetesOptions
from torchrun_core.specs.app import AppDef


def build_manifests(
    app: AppDef, options: KubernetesOptions, *, app_id: str, session: str
) -> list[dict[str, Any]]:
    """Every object ``schedule`` creates for ``app``, in creation order."""
    check_app(app, options)
    stems = role_stems(app)
    first = app.roles[0]
    base = {LABEL_APP: app_id, LABEL_APP_NAME: dns_label(app.name, 63), LABEL_SESSION: session}
    if options.jobset:
        return [build_jobset(app, options, app_id=app_id, labels=base, stems=stems)]
    rank0 = f"{stems[first.name]}-0.{app_id}.{options.namespace}.svc"
    out: list[dict[str, Any]] = [service(app_id, options.namespace, base)]
    for index, role in enumerate(app.roles):
        out += role_jobs(role, index, options, app_id, base, stems[role.name], rank0)
    return out
