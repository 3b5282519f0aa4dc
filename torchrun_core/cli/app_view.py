"""App specs as the CLI shows them: plain data with secret env values redacted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torchrun_core.specs.app import AppDef


def redacted_app_dict(app: AppDef) -> dict[str, Any]:
    """``app.to_dict()`` with the values of secret-looking env keys replaced."""
    from torchrun_core.specs.dryrun import redact_env

    data = app.to_dict()
    for role in data.get("roles", []):
        if "env" in role:
            role["env"] = redact_env(role["env"])
    return data


def record_json(record: Any) -> dict[str, Any]:
    """The JSON form of one run record, its app spec redacted."""
    from torchrun_core.cli.output import to_jsonable

    data: dict[str, Any] = to_jsonable(record)
    data.pop("app_json", None)  # never the raw spec: it holds unredacted env values
    if getattr(record, "app", None) is not None:
        data["app"] = redacted_app_dict(record.app)
    return data
