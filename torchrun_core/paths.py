"""Where torchrun_core keeps its state on this machine."""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR_ENV = "TORCHRUN_CORE_STATE_DIR"


def state_dir() -> Path:
    """The user's state dir (platformdirs), or ``$TORCHRUN_CORE_STATE_DIR``; created on demand."""
    override = os.environ.get(STATE_DIR_ENV)
    if override:
        path = Path(override).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_state_dir("torchrun_core", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()
