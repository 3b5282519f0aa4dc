"""The sbatch script of an app: one heterogeneous component per role, ``srun`` per role.

Everything that reaches a shell is quoted with ``shlex.quote``. The only
unquoted text is what this module writes itself: variable references such as
``"$SLURM_PROCID"``, which stand in for the ``${replica_id}`` and ``${app_id}``
macros because their values are only known on the cluster. Each role runs as
``srun ... /bin/sh -c <inner>``, where ``<inner>`` (quoted as one word) is a
line of quoted words, so args are quoted twice, once per shell they cross.

A failed attempt is retried in the script itself (APPLICATION retries):
every role is started again, up to ``max_retries`` times; ``--requeue`` is
also set so that Slurm requeues the job when a node fails.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from dataclasses import dataclass, field

from torchrun_core.schedulers.slurm.options import SlurmOptions
from torchrun_core.schedulers.slurm.workspace import cache_dir
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.dryrun import REDACTED, is_secret_key
from torchrun_core.specs.macros import RANK0_HOST_ENV, Macros

COMMENT_TAG = "torchrun_core"
SCRIPT_NAME = "job.sbatch"
WORKSPACE_DIR = "workspace"
APP_ID_ENV = "TORCHRUN_CORE_SLURM_APP_ID"
JOB_DIR_ENV = "TORCHRUN_CORE_JOB_DIR"
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
# Stand-ins for macros whose values exist only on the cluster; NUL cannot
# occur in an arg or env value, so a stand-in never collides with user text.
_APP_SLOT = "\x00app\x00"
_REPLICA_SLOT = "\x00replica\x00"
_SLOT_VARS = {_APP_SLOT: f'"${APP_ID_ENV}"', _REPLICA_SLOT: '"$SLURM_PROCID"'}
_SLOT_RE = re.compile("(\x00app\x00|\x00replica\x00)")


@dataclass(frozen=True)
class SlurmRequest:
    """What ``schedule`` submits: the script, where it goes, and how to reach the cluster."""

    script: str
    job_dir: str
    options: SlurmOptions
    display_script: str = field(repr=False, default="")
    workspace: str | None = None  # the local directory, synced to workspace_cache first
    workspace_cache: str | None = None
    tag: str = ""  # the comment's tag (session, roles), kept by this machine too

    @property
    def command(self) -> str:
        """The one remote command that stores the script (read from stdin) and submits it."""
        jd = shlex.quote(self.job_dir)
        path = shlex.quote(f"{self.job_dir}/{SCRIPT_NAME}")
        snapshot = ""
        if self.workspace_cache:
            # Hard links: the app's own snapshot of the synced workspace, made in no time.
            ws = shlex.quote(f"{self.job_dir}/{WORKSPACE_DIR}")
            snapshot = f" && cp -al {shlex.quote(self.workspace_cache)} {ws}"
        # pwd: the job dir's absolute path (job_dir may be relative to the home dir).
        return (
            f"mkdir -p {jd}{snapshot} && cat > {path} && sbatch --parsable {path} && cd {jd} && pwd"
        )


def new_job_dir(job_root: str, session: str, app_name: str) -> str:
    """``<job_root>/<session>/<app name>-<8 random chars>``: unique per app."""
    suffix = "".join(_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in os.urandom(8))
    return f"{job_root.rstrip('/')}/{session}/{app_name}-{suffix}"


def shell_word(text: str) -> str:
    """``text`` as one shell word; macro stand-ins become double-quoted variable references."""
    if "\x00" not in text:
        return shlex.quote(text)
    parts = [p for p in _SLOT_RE.split(text) if p]
    return "".join(_SLOT_VARS[p] if p in _SLOT_VARS else shlex.quote(p) for p in parts)


def _sbatch_line(flag: str, value: str | int | None) -> str | None:
    if value is None:
        return None
    text = str(value)
    # sbatch splits #SBATCH lines on whitespace but honours double quotes
    # (refused in values by SlurmOptions).
    return f'#SBATCH {flag}="{text}"' if re.search(r"\s", text) else f"#SBATCH {flag}={text}"


def _job_lines(app: AppDef, options: SlurmOptions, session: str, job_dir: str) -> list[str]:
    # The tag says which session the job belongs to and its roles, for describe/list.
    comment = _comment(app, options, session)
    retries = max(role.max_retries for role in app.roles)
    lines = [
        _sbatch_line("--job-name", options.job_name or app.name),
        _sbatch_line("--comment", comment),
        _sbatch_line("--chdir", job_dir),
        # Relative to --chdir, i.e. in the job dir.
        "#SBATCH --output=batch-%j.out",
        "#SBATCH --open-mode=append",
        _sbatch_line("--partition", options.partition),
        _sbatch_line("--time", options.time),
        _sbatch_line("--account", options.account),
        _sbatch_line("--qos", options.qos),
        _sbatch_line("--mail-user", options.mail_user),
        _sbatch_line("--mail-type", options.mail_type),
        "#SBATCH --requeue" if retries else None,
    ]
    return [line for line in lines if line]


def _per_node(role: Role, options: SlurmOptions) -> int:
    return min(options.tasks_per_node, role.num_replicas)


def _component_lines(role: Role, options: SlurmOptions) -> list[str]:
    n = role.num_replicas
    per_node = _per_node(role, options)
    res = role.resource
    lines = [
        f"#SBATCH --nodes={math.ceil(n / per_node)}",
        f"#SBATCH --ntasks={n}",
        f"#SBATCH --ntasks-per-node={per_node}",
        f"#SBATCH --cpus-per-task={max(1, math.ceil(res.cpu))}" if res.cpu else None,
        f"#SBATCH --mem={res.memory_mb}M" if res.memory_mb else None,
        f"#SBATCH --gpus-per-node={res.gpu * per_node}" if res.gpu else None,
        _sbatch_line("--constraint", options.constraint),
        "#SBATCH --exclusive" if options.exclusive else None,
        *(f"#SBATCH {flag}" for flag in options.sbatch_args),
    ]
    return [line for line in lines if line]


def _inner_command(role: Role, redact: bool) -> str:
    """The line each task runs under ``/bin/sh -c``: env exports, the entrypoint, its exit code."""
    macros = Macros(app_id=_APP_SLOT, replica_id=_REPLICA_SLOT, rank0_env=RANK0_HOST_ENV)
    # The task shell outlives a SIGTERM so that the process tree stays whole:
    # a TERM-deaf entrypoint is still its child when Slurm's SIGKILL comes
    # (proctrack/linuxproc finds processes by parentage). A caught signal is
    # reset in the child, so the entrypoint sees SIGTERM as usual.
    words = [
        "trap 'torchrun_core_term=1' TERM;",
        # The same per-replica variables as every other scheduler sets.
        f"export TORCHRUN_CORE_ROLE={shlex.quote(role.name)};",
        'export TORCHRUN_CORE_REPLICA_ID="$SLURM_PROCID";',
        f"export TORCHRUN_CORE_NUM_REPLICAS={role.num_replicas};",
    ]
    for key, value in role.env.items():
        shown = REDACTED if redact and is_secret_key(key) else macros.substitute(value)
        words.append(f"export {key}={shell_word(shown)};")
    words.append("\n")
    argv = [role.entrypoint, *macros.apply_args(role.args)]
    words.append(" ".join(shell_word(a) for a in argv) + " &")
    rc_file = '"$' + JOB_DIR_ENV + '"/' + shell_word(role.name) + '-"$SLURM_PROCID".rc'
    words.append(_TASK_TAIL.format(rc_file=rc_file))
    return " ".join(words).replace(" \n ", "\n")


# After the entrypoint (started in the background, so that a SIGTERM wakes
# ``wait`` at once): its own exit code for the batch script and status (srun
# reports only the largest of its tasks'); and, when Slurm is stopping the
# task or the entrypoint died of a signal, SIGKILL to the task's process
# group, so that a TERM-deaf process whose parent died on the TERM
# (re-parented to init, which linuxproc loses) dies with it. The signal test
# matters: Slurm signals the processes one by one, so the entrypoint may die
# before the task shell's own SIGTERM has arrived.
_TASK_TAIL = (
    '\nc=$!; while :; do wait "$c"; rc=$?; kill -0 "$c" 2>/dev/null || break; done'
    '\necho "$rc${{torchrun_core_term:+ stopped}}" > {rc_file}'
    '\nif [ -n "${{torchrun_core_term:-}}" ] || [ "$rc" -gt 128 ]; then kill -KILL 0; fi'
    '\nexit "$rc"'
)


def _srun_line(role: Role, group: int | None, workdir: str, redact: bool) -> str:
    out = '"$' + JOB_DIR_ENV + '"/' + shell_word(f"{role.name}-%t.out")
    err = '"$' + JOB_DIR_ENV + '"/' + shell_word(f"{role.name}-%t.err")
    het = f" --het-group={group}" if group is not None else ""
    inner = shell_word(_inner_command(role, redact))
    return (
        # --kill-on-bad-exit: a replica that fails ends its siblings at once.
        f"srun{het} --ntasks={role.num_replicas} --kill-on-bad-exit=1 --open-mode=append "
        f"--output={out} "
        f"--error={err} --chdir={workdir} /bin/sh -c {inner} &"
    )


# Each attempt waits for every role's srun and records its exit code and
# every replica's that was not 0. The codes go into the job's comment
# (``torchrun_core_rc=a:3@1=3,b:0,``) for clusters that keep comments, and
# always into the job dir (``EXIT_FILE``), which outlives squeue and needs
# no accounting setting. A failed replica ends its own role's step
# (``srun --kill-on-bad-exit``) and the other roles' steps (``stop_steps``).
_RUN_LOOP = """\
# record_role ROLE REPLICAS SRUN_CODE: append "ROLE:SRUN_CODE@rank=code...," to
# $codes, listing each rank whose code was not 0 ("?" for one that left none,
# "{stopped}" for one Slurm stopped with SIGTERM).
record_role() {{
  _entry=$1:$3; _rank=0
  while [ "$_rank" -lt "$2" ]; do
    _code='?'; _how=''; _file="{job_dir}/$1-$_rank.rc"
    if [ -r "$_file" ]; then read -r _code _how < "$_file" || _code='?'; fi
    [ "$_how" != stopped ] || _code={stopped}
    [ "$_code" = 0 ] || _entry="$_entry@$_rank=$_code"
    _rank=$((_rank + 1))
  done
  codes="$codes$_entry,"
}}
# stop_steps SRUN_PID...: a replica failed, so end the other roles' steps:
# SIGTERM first (srun passes it on to the tasks), then srun's forced
# termination (two SIGINTs within a second), which kills what is left.
stop_steps() {{
  for _pid in "$@"; do kill -TERM "$_pid" 2>/dev/null; done
  sleep {stop_grace}
  for _pid in "$@"; do kill -INT "$_pid" 2>/dev/null; kill -INT "$_pid" 2>/dev/null; done
}}
attempt=0
while :; do
  export TORCHRUN_CORE_ATTEMPT=$attempt
  rm -f "{job_dir}"/*.rc
{sruns}
  rc=0
  codes=""
{waits}
  scontrol update JobId="$SLURM_JOB_ID" Comment={comment}" {rc_key}=$codes" >/dev/null 2>&1 || true
  final=0
  if [ "$rc" -eq 0 ] || [ "$attempt" -ge {retries} ] || [ -e "{job_dir}/{cancel_file}" ]; then
    final=1
  fi
  printf '%s %s %s %s\\n' "$final" "$attempt" "$rc" "$codes" > "{job_dir}/.{exit_file}.tmp" &&
    mv -f "{job_dir}/.{exit_file}.tmp" "{job_dir}/{exit_file}"
  if [ "$final" -eq 1 ]; then exit "$rc"; fi
  attempt=$((attempt + 1))
  echo "torchrun_core: attempt $attempt of {retries} after exit code $rc" >&2
done
"""
# A replica's code in the comment and EXIT_FILE when Slurm stopped it (SIGTERM).
STOPPED_CODE = "s"
# Seconds the other roles' replicas get to stop after a replica failed.
STOP_GRACE_S = 2
# Written in the job dir: the batch script's outcome, and a cancel's mark.
EXIT_FILE = "torchrun_core.exit"
CANCEL_FILE = "torchrun_core.cancel"
RC_KEY = "torchrun_core_rc"


def _comment(app: AppDef, options: SlurmOptions, session: str) -> str:
    """The job's comment: the tag (session, roles and replicas), then the user's comment."""
    # ``=N`` replicas, ``xK`` tasks per node when more than 1: status maps ranks to nodes.
    roles = ",".join(
        f"{role.name}={role.num_replicas}"
        + (f"x{k}" if (k := _per_node(role, options)) > 1 else "")
        for role in app.roles
    )
    comment = f"{COMMENT_TAG}:{session}:{roles}"
    return f"{comment} {options.comment}" if options.comment else comment


def _wait_lines(roles: list[Role]) -> str:
    """The script lines that wait for each role's srun, recording its codes.

    One role: a plain ``wait`` (srun's --kill-on-bad-exit stops its replicas).
    Several: a poll of every role's srun, the first failure stopping the
    others' steps (``wait -n -p`` would need bash 5.1, rare on clusters).
    """
    # Role names are [A-Za-z0-9_.-]: safe inside double quotes.
    if len(roles) == 1:
        role = roles[0]
        return (
            f'  wait "$pid0"; c=$?; record_role {role.name} {role.num_replicas} "$c"; '
            '[ "$c" -eq 0 ] || rc=$c'
        )
    n = len(roles)
    lines = ["  " + "; ".join(f'd{i}=""' for i in range(n))]
    lines.append("  while " + " || ".join(f'[ -z "$d{i}" ]' for i in range(n)) + "; do")
    for i, role in enumerate(roles):
        others = " ".join(f'"$pid{j}"' for j in range(n) if j != i)
        lines.append(
            f'    if [ -z "$d{i}" ] && ! kill -0 "$pid{i}" 2>/dev/null; then\n'
            f'      wait "$pid{i}"; c=$?; d{i}=1\n'
            f'      record_role {role.name} {role.num_replicas} "$c"\n'
            f'      if [ "$c" -ne 0 ] && [ "$rc" -eq 0 ]; then rc=$c; stop_steps {others}; fi\n'
            "    fi"
        )
    lines.append("    " + " || ".join(f'[ -z "$d{i}" ]' for i in range(n)) + " && sleep 0.2")
    lines.append("  done")
    return "\n".join(lines)


def render_script(
    app: AppDef,
    options: SlurmOptions,
    session: str,
    job_dir: str,
    workspace: bool = False,
    redact: bool = False,
) -> str:
    """The complete sbatch script of ``app`` (``redact`` hides secret env values, for display)."""
    het = len(app.roles) > 1
    lines = ["#!/bin/bash", *_job_lines(app, options, session, job_dir)]
    for i, role in enumerate(app.roles):
        if i:
            lines.append("#SBATCH hetjob")
        lines += _component_lines(role, options)
    nodelist = "${SLURM_JOB_NODELIST_HET_GROUP_0:-$SLURM_JOB_NODELIST}"
    lines += [
        "set -u",
        f'export {APP_ID_ENV}="$SLURM_JOB_ID"',
        # sbatch started the script in the job dir (--chdir): every path below is absolute.
        f'export {JOB_DIR_ENV}="$PWD"',
        # A NodeName need not resolve: replicas reach rank 0 at its node's NodeAddr.
        f'torchrun_core_rank0="$(scontrol show hostnames "{nodelist}" | head -n 1)"',
        f'export {RANK0_HOST_ENV}="$(scontrol show node -o "$torchrun_core_rank0" 2>/dev/null |'
        " sed -n 's/.*NodeAddr=\\([^ ]*\\).*/\\1/p' | head -n 1)\"",
        f'[ -n "${RANK0_HOST_ENV}" ] || {RANK0_HOST_ENV}=$torchrun_core_rank0',
    ]
    workdir = f'"${JOB_DIR_ENV}"' + (f"/{WORKSPACE_DIR}" if workspace else "")
    sruns = []
    for i, role in enumerate(app.roles):
        srun = _srun_line(role, i if het else None, workdir, redact)
        sruns.append(f"  {srun}\n  pid{i}=$!")
    loop = _RUN_LOOP.format(
        sruns="\n".join(sruns),
        waits=_wait_lines(app.roles),
        comment=shlex.quote(_comment(app, options, session)),
        rc_key=RC_KEY,
        job_dir="$" + JOB_DIR_ENV,
        retries=max(role.max_retries for role in app.roles),
        stop_grace=STOP_GRACE_S,
        stopped=STOPPED_CODE,
        exit_file=EXIT_FILE,
        cancel_file=CANCEL_FILE,
    )
    lines.append(loop)
    return "\n".join(lines)


def build_request(
    app: AppDef, options: SlurmOptions, session: str, workspace: str | None = None
) -> SlurmRequest:
    """The request for ``app``: a new job dir, and its script rendered twice (real, redacted)."""
    job_dir = new_job_dir(options.job_dir, session, app.name)
    has_ws = workspace is not None
    return SlurmRequest(
        script=render_script(app, options, session, job_dir, has_ws),
        job_dir=job_dir,
        options=options,
        display_script=render_script(app, options, session, job_dir, has_ws, redact=True),
        workspace=workspace,
        workspace_cache=cache_dir(options.job_dir, workspace) if workspace else None,
        tag=_comment(app, options, session).split(" ", 1)[0],
    )


def format_request(request: SlurmRequest) -> str:
    """A dry run as printed: the target, the exact command, then the script (secrets hidden)."""
    opts = request.options
    target = "this machine" if opts.is_local else f"ssh {opts.user or ''}@{opts.host}"
    if not opts.is_local:
        target = target.replace(" @", " ") + (f" -p {opts.port}" if opts.port else "")
    lines = [f"# on {target}:", f"# {request.command} < script", request.display_script]
    if request.workspace:
        lines.insert(1, f"# workspace {request.workspace} -> {request.job_dir}/{WORKSPACE_DIR}")
    return "\n".join(lines)
