"""The dry run as YAML manifests (``torchrun-core dryrun -s kubernetes``), secrets redacted."""

from __future__ import annotations

from typing import Any

from torchrun_core.specs.dryrun import REDACTED, is_secret_key


def _redacted_env(obj: Any) -> Any:
    """A copy of ``obj`` where every container env value with a secret-looking name is hidden."""
    if isinstance(obj, dict):
        if "name" in obj and "value" in obj and len(obj) == 2 and is_secret_key(str(obj["name"])):
            return {"name": obj["name"], "value": REDACTED}
        return {k: _redacted_env(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_redacted_env(v) for v in obj]
    return obj


def format_manifests(request: dict[str, Any]) -> str:
    """Every manifest as one YAML stream, after a comment naming the target."""
    import yaml

    target = request["target"]
    where = f"# namespace {target.namespace}"
    if target.kubeconfig or target.context:
        where += f", kubeconfig {target.kubeconfig or '(default)'}"
        where += f", context {target.context or '(current)'}"
    docs = [_redacted_env(m) for m in request["manifests"]]
    body = yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False)
    return f"{where}\n---\n{body}".rstrip("\n")
