"""The login node's calls on this machine, for a slurm host of ``localhost`` with no SSH.

Commands run with ``/bin/sh -c`` in the home directory and files are plain
files, relative paths under the home directory: the same behaviour as an SSH
login, so the scheduler does not tell the two apart.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from torchrun_core.errors import SchedulerUnavailableError
from torchrun_core.schedulers.slurm.ssh_transport import READ_CHUNK, CommandResult


class LocalTransport:
    """The same calls on this machine: ``/bin/sh -c`` in the home directory, plain files."""

    def __init__(self) -> None:
        self.commands_run = 0
        self.home = Path.home()

    def _path(self, path: str) -> Path:
        return self.home / path  # an absolute path stays absolute

    def run(
        self, command: str, stdin: bytes | None = None, rerun_on_drop: bool = False
    ) -> CommandResult:
        self.commands_run += 1
        try:
            done = subprocess.run(
                ["/bin/sh", "-c", command],
                input=stdin or b"",
                capture_output=True,
                cwd=self.home,
                check=False,
            )
        except OSError as err:
            raise SchedulerUnavailableError(f"cannot run /bin/sh on this machine: {err}") from None
        out, err_text = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
        return CommandResult(done.returncode, out, err_text)

    def read_from(self, path: str, offset: int, limit: int = READ_CHUNK) -> bytes | None:
        try:
            with open(self._path(path), "rb") as f:
                f.seek(offset)
                return f.read(limit)
        except FileNotFoundError:
            return None

    def stat(self, path: str) -> tuple[int, float] | None:
        try:
            st = self._path(path).stat()
        except FileNotFoundError:
            return None
        return st.st_size, st.st_mtime

    def put(self, local: str, remote: str, mtime: float) -> None:
        part = self._path(remote + ".part")
        shutil.copyfile(local, part)
        os.utime(part, (mtime, mtime))
        os.replace(part, self._path(remote))

    def mkdir(self, path: str) -> None:
        self._path(path).mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        """Nothing to release."""
