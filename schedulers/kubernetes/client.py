"""The connection to a cluster, and where an app lives (namespace, kubeconfig, context).

The ``kubernetes`` SDK is imported here, when a cluster is first contacted.
Responses are read as JSON dicts (``_preload_content=False``): no model
objects are built, and the state mapping works on the API's own field names.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchrun_core.errors import SchedulerUnavailableError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

JOBSET_GROUP = "jobset.x-k8s.io"
JOBSET_VERSION = "v1alpha2"
JOBSET_PLURAL = "jobsets"


@dataclass(frozen=True)
class Target:
    """Which cluster and namespace an app is on."""

    namespace: str = "default"
    kubeconfig: str | None = None
    context: str | None = None
    jobset: bool = False


def connect(target: Target) -> ApiClient:
    """An API client for ``target``: its kubeconfig (or KUBECONFIG, ~/.kube/config), else
    the in-cluster service account.

    Raises:
        SchedulerUnavailableError: no usable configuration.
    """
    from kubernetes import config as config_module

    config: Any = config_module  # the SDK leaves its loaders untyped

    path = target.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    path = os.path.expanduser(path.split(os.pathsep)[0])
    try:
        if os.path.exists(path) or target.kubeconfig:
            client: ApiClient = config.new_client_from_config(
                config_file=path, context=target.context
            )
            return client
        config.load_incluster_config()
    except (config_module.ConfigException, OSError, ValueError) as err:
        raise SchedulerUnavailableError(
            f"kubernetes: no usable cluster configuration ({err})".replace("\n", " "),
            hint="pass --cfg kubeconfig=PATH (and context=NAME), or run inside a cluster",
        ) from None
    from kubernetes.client import ApiClient

    return ApiClient()


def read_json(response: Any) -> Any:
    """The JSON body of a raw (``_preload_content=False``) urllib3 response."""
    return json.loads(response.data or b"null")


def items(response: Any) -> list[dict[str, Any]]:
    """The ``items`` of a raw list response."""
    data = read_json(response)
    return list(data.get("items") or []) if isinstance(data, dict) else []


class TargetBook:
    """``<state_dir>/kubernetes/<session>/<app_id>.json``: where each submitted app went."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, app_id: str, target: Target) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{app_id}.tmp"
        tmp.write_text(json.dumps(asdict(target)))
        tmp.replace(self.root / f"{app_id}.json")

    def load(self, app_id: str) -> Target | None:
        try:
            return Target(**json.loads((self.root / f"{app_id}.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None
