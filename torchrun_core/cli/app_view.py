"""App specs and run records as the CLI shows them: secret env values redacted.

Both live lower down (the dashboard shows the same shapes); kept here for
the CLI's imports.
"""

from __future__ import annotations

from typing import Any

from torchrun_core.specs.dryrun import redacted_app_dict


def record_json(record: Any) -> dict[str, Any]:
    """The JSON form of one run record, its app spec redacted."""
    from torchrun_core.runstore.record import public_record_dict

    return public_record_dict(record)


__all__ = ["record_json", "redacted_app_dict"]
