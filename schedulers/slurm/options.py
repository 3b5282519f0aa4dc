"""Run options of the slurm scheduler (``torchrun-core runopts slurm``)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from torchrun_core.scheduler import SchedulerOptions

# What a value that lands on an ``#SBATCH`` line may hold: a newline would
# start a new line of the script and sbatch reads double quotes itself, so
# both are refused rather than quoted.
_LINE_SAFE_RE = re.compile(r"^[^\n\r\x00\"]*$")


class SlurmOptions(SchedulerOptions):
    """Run options of the slurm scheduler: where to connect, and sbatch's flags."""

    host: str = Field(
        default="localhost",
        description="the login node (a name from ~/.ssh/config works); localhost with no "
        "port/user/identity_file runs the Slurm commands on this machine",
    )
    port: int | None = Field(default=None, ge=1, le=65535, description="SSH port (default 22)")
    user: str | None = Field(default=None, description="SSH user (default: ~/.ssh/config's)")
    identity_file: str | None = Field(default=None, description="private key file for SSH")
    known_hosts: str | None = Field(
        default=None,
        description="known_hosts file checked for the host key (default ~/.ssh/known_hosts); "
        "unknown hosts are always rejected",
    )
    ssh_config: str | None = Field(
        default=None, description="SSH config file (default ~/.ssh/config when it exists)"
    )
    connect_timeout: float = Field(default=10.0, gt=0, description="SSH connect timeout, s")
    job_dir: str = Field(
        default="torchrun_core/jobs",
        description="remote directory holding one directory per app (script, logs, "
        "workspace); relative paths are under the remote user's home",
    )
    partition: str | None = Field(default=None, description="sbatch --partition")
    time: str | None = Field(default=None, description="sbatch --time, e.g. 1:00:00")
    account: str | None = Field(default=None, description="sbatch --account")
    qos: str | None = Field(default=None, description="sbatch --qos")
    constraint: str | None = Field(default=None, description="sbatch --constraint")
    exclusive: bool = Field(default=False, description="sbatch --exclusive")
    comment: str | None = Field(default=None, description="added to the job's comment tag")
    job_name: str | None = Field(default=None, description="sbatch --job-name (default: app)")
    mail_user: str | None = Field(default=None, description="sbatch --mail-user")
    mail_type: str | None = Field(default=None, description="sbatch --mail-type, e.g. END,FAIL")
    tasks_per_node: int = Field(
        default=1,
        ge=1,
        description="replicas per node: a role of N replicas asks for "
        "ceil(N / tasks_per_node) nodes",
    )
    sbatch_args: list[str] = Field(
        default_factory=list,
        description="extra sbatch flags for every component, comma-separated, e.g. "
        "--reservation=r1,--nice=10",
    )

    @field_validator("sbatch_args", mode="before")
    @classmethod
    def _flags(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [flag.strip() for flag in value.split(",") if flag.strip()]
        return value

    @field_validator(
        "partition",
        "time",
        "account",
        "qos",
        "constraint",
        "comment",
        "job_name",
        "mail_user",
        "mail_type",
        "job_dir",
        "host",
        "user",
    )
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and not _LINE_SAFE_RE.match(value):
            raise ValueError("must be a single line without double quotes")
        return value

    @field_validator("sbatch_args")
    @classmethod
    def _flags_one_line(cls, value: list[str]) -> list[str]:
        for flag in value:
            if not _LINE_SAFE_RE.match(flag) or not flag.startswith("-"):
                raise ValueError(f"each flag must be one line starting with '-': {flag!r}")
        return value

    @property
    def is_local(self) -> bool:
        """True when the Slurm commands run on this machine, without SSH."""
        no_ssh = self.port is None and self.user is None and self.identity_file is None
        return self.host in ("localhost", "127.0.0.1") and no_ssh and self.ssh_config is None
