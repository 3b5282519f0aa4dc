"""The rendered sbatch script: its lines, and that it runs args verbatim (never executes them).

The quoting tests run the rendered script with bash, with ``srun`` and
``scontrol`` replaced by small shims on PATH: the shim runs the task command
as srun would (``SLURM_PROCID`` set, output to the ``--output`` file), so the
script's real quoting crosses both real shells.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from torchrun_core.errors import InvalidOptionError
from torchrun_core.schedulers.slurm.options import SlurmOptions
from torchrun_core.schedulers.slurm.scheduler import SlurmScheduler
from torchrun_core.schedulers.slurm.script import build_request, format_request
from torchrun_core.specs.app import AppDef, Resource, Role

CORPUS = [
    "plain",
    "with space",
    "it's",
    'say "hi"',
    "$(touch {pwned})",
    "`touch {pwned}`",
    "; touch {pwned}",
    "a\nb; touch {pwned}",
    "$HOME ${{HOME}} \\ \\n",
    "*",
    "",
    "--flag=x|y&z>w<v",
]

SRUN_SHIM = """#!/bin/bash
# srun shim: run "$@" after the options, once per task, output to --output/--error.
out=/dev/stdout err=/dev/stderr n=1 dir=$PWD
while [ $# -gt 0 ]; do
  case $1 in
    --output=*) out=${1#--output=} ;;
    --error=*) err=${1#--error=} ;;
    --ntasks=*) n=${1#--ntasks=} ;;
    --chdir=*) dir=${1#--chdir=} ;;
    --*) ;;
    *) break ;;
  esac
  shift
done
for ((t = 0; t < n; t++)); do
  (cd "$dir" && SLURM_PROCID=$t "$@" >>"${out//%t/$t}" 2>>"${err//%t/$t}")
done
"""


def _app(args: list[str], env: dict[str, str] | None = None, replicas: int = 1) -> AppDef:
    role = Role(
        name="main",
        image="",
        entrypoint=sys.executable,
        args=["-c", "import sys, json; print(json.dumps(sys.argv[1:]))", *args],
        env=env or {},
        num_replicas=replicas,
    )
    return AppDef(name="quoting", roles=[role])


def _run_script(script: str, tmp_path: Path) -> None:
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "srun").write_text(SRUN_SHIM)
    (shims / "scontrol").write_text("#!/bin/sh\necho node1\n")
    for shim in shims.iterdir():
        shim.chmod(0o755)
    job = tmp_path / "job"
    job.mkdir()
    env = {**os.environ, "PATH": f"{shims}:{os.environ['PATH']}", "SLURM_JOB_ID": "42"}
    env["SLURM_JOB_NODELIST"] = "node1"
    subprocess.run(["bash", "-c", script], cwd=job, env=env, check=False, timeout=60)


def test_injection_corpus_reaches_the_program_verbatim(tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    args = [a.format(pwned=pwned) for a in CORPUS]
    env = {f"V{i}": a for i, a in enumerate(args)}
    request = build_request(_app(args, env), SlurmOptions(), "s", None)
    _run_script(request.script, tmp_path)
    out = (tmp_path / "job" / "main-0.out").read_text()
    import json

    assert json.loads(out) == args
    assert not pwned.exists()


def test_macros_expand_on_the_cluster(tmp_path: Path) -> None:
    app = _app(["${app_id}", "r${replica_id}", "x${app_id}'y"], replicas=2)
    app = app.map_roles(
        lambda r: r.with_args(
            "-c",
            "import os, sys, json; print(json.dumps(sys.argv[1:] + [os.environ[k] for k in "
            "('TORCHRUN_CORE_ROLE', 'TORCHRUN_CORE_REPLICA_ID', 'TORCHRUN_CORE_NUM_REPLICAS')]))",
            *r.args[2:],
        )
    )
    request = build_request(app, SlurmOptions(), "s", None)
    _run_script(request.script, tmp_path)
    import json

    out0 = json.loads((tmp_path / "job" / "main-0.out").read_text())
    out1 = json.loads((tmp_path / "job" / "main-1.out").read_text())
    assert out0 == ["42", "r0", "x42'y", "main", "0", "2"]
    assert out1 == ["42", "r1", "x42'y", "main", "1", "2"]


def test_failed_attempts_are_retried_in_the_script(tmp_path: Path) -> None:
    role = Role(
        name="main",
        image="",
        entrypoint="/bin/sh",
        args=["-c", "echo try; exit 5"],
        max_retries=2,
    )
    request = build_request(AppDef(name="r", roles=[role]), SlurmOptions(), "s", None)
    assert "#SBATCH --requeue" in request.script
    _run_script(request.script, tmp_path)
    assert (tmp_path / "job" / "main-0.out").read_text() == "try\n" * 3


def test_options_and_resources_become_sbatch_lines() -> None:
    role = Role(
        name="t",
        image="",
        entrypoint="x",
        num_replicas=4,
        resource=Resource(cpu=3, memory_mb=2048, gpu=2),
    )
    opts = SlurmOptions(
        partition="gpu",
        time="1:00:00",
        account="acc",
        qos="high",
        constraint="a100",
        exclusive=True,
        comment="my run",
        job_name="jn",
        mail_user="a@b.c",
        mail_type="END",
        tasks_per_node=2,
        sbatch_args="--nice=10,--reservation=r1",
    )
    script = build_request(AppDef(name="a", roles=[role]), opts, "s", None).script
    for line in [
        "#SBATCH --partition=gpu",
        "#SBATCH --time=1:00:00",
        "#SBATCH --account=acc",
        "#SBATCH --qos=high",
        "#SBATCH --constraint=a100",
        "#SBATCH --exclusive",
        '#SBATCH --comment="torchrun_core:s:t=4x2 my run"',  # 4 replicas, 2 per node
        "#SBATCH --job-name=jn",
        "#SBATCH --mail-user=a@b.c",
        "#SBATCH --mail-type=END",
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks=4",
        "#SBATCH --ntasks-per-node=2",
        "#SBATCH --cpus-per-task=3",
        "#SBATCH --mem=2048M",
        "#SBATCH --gpus-per-node=4",
        "#SBATCH --nice=10",
        "#SBATCH --reservation=r1",
    ]:
        assert line in script.splitlines(), line
    assert "hetjob" not in script


def test_each_role_is_a_het_component() -> None:
    roles = [Role(name=n, image="", entrypoint="x") for n in ("a", "b", "c")]
    script = build_request(AppDef(name="h", roles=roles), SlurmOptions(), "s", None).script
    assert script.count("#SBATCH hetjob") == 2
    assert "srun --het-group=2 " in script


@pytest.mark.parametrize(
    "bad", [{"partition": "a\n#SBATCH --x"}, {"comment": 'a"b'}, {"sbatch_args": ["nodash"]}]
)
def test_option_values_cannot_add_script_lines(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidOptionError):
        SlurmScheduler("s").parse_options(bad)


def test_dry_run_hides_secrets_and_shows_the_command() -> None:
    app = _app(["x"], {"API_TOKEN": "s3cr3t-value", "PLAIN": "visible"})
    text = str(SlurmScheduler("s").dryrun(app))
    assert "s3cr3t-value" not in text
    assert "visible" in text
    assert "sbatch --parsable" in text
    assert text.splitlines()[0] == "# on this machine:"


def test_dry_run_of_1000_replicas_runs_no_command(tmp_path: Path) -> None:
    sched = SlurmScheduler("s", host="login.invalid", port=2222, user="u")
    role = Role(name="w", image="", entrypoint="echo", num_replicas=1000)
    start = time.perf_counter()
    info = sched.dryrun(AppDef(name="big", roles=[role]))
    assert time.perf_counter() - start >= 0  # no timing assert: see benchmarks/bench_slurm.py
    assert "#SBATCH --ntasks=1000" in info.request.script
    assert "ssh u@login.invalid -p 2222" in format_request(info.request)
    assert sched._transports == {}  # no connection was made
