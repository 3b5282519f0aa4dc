"""What the job dir on the cluster says about an app, read in the same round trip as squeue.

The batch script leaves its outcome in the job dir (``EXIT_FILE``: whether
it is final, the attempt, the exit code and every replica's code), a cancel
leaves its mark there (``CANCEL_FILE``), and each replica writes its own
exit code (``<role>-<rank>.rc``) as it ends. None of it depends on a site
setting: it outlives squeue (``MinJobAge``) and needs no accounting flag.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from torchrun_core.schedulers.slurm.script import CANCEL_FILE, EXIT_FILE

DIRS_MARK = "@@torchrun_core:dirs@@"
_RC_FILE = re.compile(r"^(?P<role>[A-Za-z0-9_.-]+)-(?P<rank>\d+)\.rc$")


@dataclass(frozen=True)
class JobDirState:
    """One app's job dir as last read.

    Attributes:
        final: the batch script ended for good (its last attempt, or a cancel).
        exit_code: the batch script's code for its last finished attempt.
        codes: that attempt's per-role codes, in the comment's format.
        exists: the job dir could be entered.
        cancelled: a cancel marked the app.
        replica_codes: ``(role, rank) -> code`` of replicas of the running
            attempt that have ended.
    """

    exists: bool = False
    final: bool = False
    attempt: int | None = None
    exit_code: int | None = None
    codes: str = ""
    cancelled: bool = False
    replica_codes: dict[tuple[str, int], int] = field(default_factory=dict)

    @property
    def has_exit(self) -> bool:
        return self.exit_code is not None


def dirs_command(job_dirs: Mapping[str, str]) -> str:
    """Shell lines printing, per app, what its job dir holds (read by :func:`parse_dirs`)."""
    parts = [f"echo {DIRS_MARK}"]
    for app_id, job_dir in job_dirs.items():
        parts.append(
            f"echo {shlex.quote('@@d ' + app_id)}; "
            f"(cd {shlex.quote(job_dir)} 2>/dev/null && {{ echo @@ok; "
            f"cat {EXIT_FILE} 2>/dev/null; "
            f"[ -e {CANCEL_FILE} ] && echo @@cancel; "
            'for f in *.rc; do [ -f "$f" ] && printf \'@@rc %s \' "$f" && head -c 12 "$f"; done; '
            "})"
        )
    return "; ".join(parts)


def parse_dirs(text: str) -> dict[str, JobDirState]:
    """Each app's JobDirState from :func:`dirs_command`'s output (after ``DIRS_MARK``)."""
    out: dict[str, JobDirState] = {}
    current: str | None = None
    fields: dict[str, object] = {}
    codes: dict[tuple[str, int], int] = {}

    def close() -> None:
        if current is not None:
            out[current] = JobDirState(replica_codes=dict(codes), **fields)  # type: ignore[arg-type]

    for line in text.splitlines():
        if line.startswith("@@d "):
            close()
            current, fields, codes = line[4:].strip(), {}, {}
        elif current is None:
            continue
        elif line == "@@ok":
            fields["exists"] = True
        elif line == "@@cancel":
            fields["cancelled"] = True
        elif line.startswith("@@rc "):
            name, _, value = line[5:].partition(" ")
            found = _RC_FILE.match(name)
            if found and value.strip().isdigit():
                codes[(found["role"], int(found["rank"]))] = int(value.strip())
        else:
            fields.update(_exit_fields(line))
    close()
    return out


def _exit_fields(line: str) -> dict[str, object]:
    """``final attempt rc codes`` as written by the batch script; {} when unreadable."""
    words = line.split()
    if len(words) < 3 or not all(w.isdigit() for w in words[:3]):
        return {}
    return {
        "final": words[0] == "1",
        "attempt": int(words[1]),
        "exit_code": int(words[2]),
        "codes": words[3] if len(words) > 3 else "",
    }
