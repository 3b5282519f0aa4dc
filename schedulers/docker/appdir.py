"""The few facts about a docker app kept on this machine rather than in labels.

``<state_dir>/docker/<session>/<app_id>/`` holds, only when needed:

- ``host``: the daemon the app was submitted to, when not the scheduler's
  default (labels live on the daemon, so finding the daemon comes first);
- ``supervisor.lock``: flocked by the app's supervisor while it lives
  (describe asks only when a retry is pending);
- ``cancel``: written by cancel before it stops anything, so that a status
  read meanwhile says CANCELLED, not FAILED, and the supervisor retries nothing;
- ``failed``: written by the supervisor when a retry could not start (the
  daemon's reason): the app is FAILED with that message, whatever its
  containers say (no label can record it: labels are fixed at creation).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import time
from pathlib import Path

from torchrun_core import paths

HOST_FILE = "host"
LOCK_FILE = "supervisor.lock"
CANCEL_FILE = "cancel"
FAILED_FILE = "failed"
_APP_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class AppDir:
    """The local files of one docker app (the directory is made on first write)."""

    def __init__(self, session_dir: Path, app_id: str) -> None:
        if not _APP_ID_RE.match(app_id):
            raise ValueError(f"not an app id: {app_id!r}")
        self.path = session_dir / app_id

    def _file(self, name: str) -> Path:
        return self.path / name

    def write(self, name: str, text: str) -> None:
        """Replace file ``name`` whole.

        Raises:
            OSError: it could not be (a full disk, say); no temporary file is left.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self._file(f".{name}.tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, self._file(name))
        except OSError:
            tmp.unlink(missing_ok=True)
            raise

    def read(self, name: str) -> str | None:
        try:
            return self._file(name).read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            return None

    def exists(self, name: str) -> bool:
        return self._file(name).exists()

    def remove(self, keep_host: bool = False) -> None:
        """Delete the app's files; ``keep_host``: keep where it ran, to look for it there."""
        if keep_host and self.exists(HOST_FILE):
            for entry in self.path.iterdir():
                if entry.name != HOST_FILE:
                    entry.unlink(missing_ok=True)
            return
        shutil.rmtree(self.path, ignore_errors=True)

    # -- the supervisor's lock ----------------------------------------------
    def supervised(self) -> bool:
        """True while a supervisor holds the app's lock."""
        try:
            fd = os.open(self._file(LOCK_FILE), os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # also drops the shared lock, if taken
        return False

    def wait_unsupervised(self, timeout: float) -> bool:
        """Wait until no supervisor holds the lock; False if one still does after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.supervised():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def take_lock(self) -> int:
        """Take the supervisor lock; returns the fd that holds it (pass it on, or close it).

        Raises:
            BlockingIOError: a supervisor holds it already.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._file(LOCK_FILE), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException:
            os.close(fd)
            raise
        return fd


def session_dir(state_dir: str | os.PathLike[str] | None, session: str) -> Path:
    """``<state_dir>/docker/<session>``, the state dir defaulting to the user's."""
    root = Path(state_dir).expanduser().resolve() if state_dir else paths.state_dir()
    return root / "docker" / session
