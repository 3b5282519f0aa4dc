"""Macros substituted into a role's args and env values at dry-run time.

``${app_id}``, ``${replica_id}``, ``${img_root}`` and ``${rank0_env}`` are
replaced; any other ``$`` text is left alone so that shell variables pass
through untouched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

APP_ID = "${app_id}"
REPLICA_ID = "${replica_id}"
IMG_ROOT = "${img_root}"
RANK0_ENV = "${rank0_env}"

# Every scheduler sets this env var in every replica to rank 0's address;
# ${rank0_env} expands to its *name*, so that `sh -c` can read it.
RANK0_HOST_ENV = "TORCHRUN_CORE_RANK0_HOST"

_MACRO_RE = re.compile(r"\$\{(app_id|replica_id|img_root|rank0_env)\}")


@dataclass(frozen=True)
class Macros:
    """The values one replica's macros expand to."""

    app_id: str
    replica_id: str = "0"
    img_root: str = ""
    rank0_env: str = RANK0_HOST_ENV

    def substitute(self, text: str) -> str:
        """``text`` with every macro replaced by its value."""
        if "${" not in text:
            return text
        # One pass, so a value that itself contains macro text is not expanded again.
        return _MACRO_RE.sub(lambda m: str(getattr(self, m[1])), text)

    def apply_args(self, args: Sequence[str]) -> list[str]:
        return [self.substitute(a) for a in args]

    def apply_env(self, env: Mapping[str, str]) -> dict[str, str]:
        return {k: self.substitute(v) for k, v in env.items()}
