"""Parsing of real Slurm 22.05 output (captured from the test cluster) into app states."""

from __future__ import annotations

from pathlib import Path

from torchrun_core.schedulers.slurm.app_status import SlurmApp, app_state, app_status
from torchrun_core.schedulers.slurm.status import (
    SACCT_MARK,
    SlurmJob,
    parse_sacct,
    parse_squeue,
    parse_status_output,
    status_command,
)
from torchrun_core.specs.state import AppState

# `squeue --json` of Slurm 22.05.8, captured over SSH from scripts/engines/slurm.sh's
# cluster: het jobs 1+2, 5+6 (cancelled) and 7+8 (failed, exit 3), plain jobs 3
# (cancelled), 4 (completed), 9 (running).
SQUEUE = (Path(__file__).parent / "data" / "squeue_22.05.json").read_text()
# `sacct --parsable2 --noheader -X --format=<SACCT_FIELDS>` of Slurm 22.05.8 (slurmdbd
# on mariadb), captured over SSH from scripts/engines/slurm.sh's cluster: 598 completed,
# 599 failed (exit 3), het job 600+0/600+1 failed (exit 3), 602 cancelled while pending.
SACCT = (Path(__file__).parent / "data" / "sacct_22.05.txt").read_text()
# The same format written by hand, for cases not captured: a signal in ExitCode.
SACCT_SIGNALLED = (
    "14|x|CANCELLED by 1001|0:15|torchrun_core:s:main=1|/home/u/l|Unknown|Unknown|u|None\n"
    "garbage line\n"
)


def _app(jobs: list[SlurmJob]) -> SlurmApp:
    return SlurmApp(jobs[0].job_id, jobs, jobs[0].comment)


def test_squeue_het_components_share_the_leader_id() -> None:
    jobs = {(j.job_id, j.offset): j for j in parse_squeue(SQUEUE)}
    assert jobs[("7", 0)].nodes == "node1"
    assert jobs[("7", 1)].nodes == "node2"
    assert ("8", 0) not in jobs


def test_squeue_exit_code_is_a_raw_wait_status() -> None:
    jobs = {(j.job_id, j.offset): j for j in parse_squeue(SQUEUE)}
    assert jobs[("7", 0)].exit_code == 3  # 768 in the JSON
    assert jobs[("4", 0)].exit_code == 0


def test_states_map() -> None:
    _, by_id, _ = parse_status_output("trcslurm\n" + SQUEUE + SACCT_MARK + "\n")
    assert app_state(by_id["4"]) is AppState.SUCCEEDED
    assert app_state(by_id["7"]) is AppState.FAILED
    assert app_state(by_id["5"]) is AppState.CANCELLED
    assert app_state(by_id["9"]) is AppState.RUNNING


def test_status_per_role_from_the_comment_tag() -> None:
    user, by_id, _ = parse_status_output("trcslurm\n" + SQUEUE + SACCT_MARK + "\n")
    assert user == "trcslurm"
    status = app_status(_app(by_id["7"]), "slurm://e2e/7")
    assert [r.role for r in status.roles] == ["w", "p"]
    assert status.replica("w", 0).exit_code == 3
    assert status.replica("p", 0).hostname == "node2"
    assert status.state is AppState.FAILED


def test_sacct_parsable2() -> None:
    jobs = {(j.job_id, j.offset): j for j in parse_sacct(SACCT)}
    assert jobs[("598", 0)].state is AppState.SUCCEEDED
    assert jobs[("598", 0)].finished_at is not None
    assert jobs[("599", 0)].state is AppState.FAILED
    assert jobs[("599", 0)].exit_code == 3
    assert jobs[("600", 1)].nodes == "node2"
    assert jobs[("602", 0)].state is AppState.CANCELLED
    assert jobs[("602", 0)].comment == "torchrun_core:s:main=1"
    assert len(jobs) == 5


def test_sacct_signal_and_garbage() -> None:
    jobs = {(j.job_id, j.offset): j for j in parse_sacct(SACCT_SIGNALLED)}
    assert jobs[("14", 0)].state is AppState.CANCELLED
    assert jobs[("14", 0)].exit_code == 128 + 15
    assert len(jobs) == 1


def test_sacct_fills_in_jobs_squeue_forgot() -> None:
    _, by_id, _ = parse_status_output("trcslurm\n" + '{"jobs": []}' + SACCT_MARK + "\n" + SACCT)
    assert app_state(by_id["600"]) is AppState.FAILED
    assert [j.offset for j in by_id["600"]] == [0, 1]
    status = app_status(_app(by_id["599"]), "slurm://s/599")
    assert status.state is AppState.FAILED
    assert status.replica("main", 0).exit_code == 3


def test_status_command_is_one_command_for_many_jobs() -> None:
    cmd = status_command([str(i) for i in range(100)])
    assert cmd.count("squeue --json") == 1 and cmd.count("sacct --") == 1
    assert "-j 0,1,2," in cmd
    assert "sacct --" not in status_command([])


def test_role_exit_codes_from_the_comment() -> None:
    from torchrun_core.schedulers.slurm.app_status import role_exit_codes

    comment = "torchrun_core:s:a=1,b=2 user words torchrun_core_rc=a:0,b:3,"
    assert role_exit_codes(comment) == {"a": 0, "b": 3}
    assert role_exit_codes("torchrun_core:s:a=1") == {}


def test_replica_exit_codes_from_the_comment() -> None:
    from torchrun_core.schedulers.slurm.app_status import role_exits

    exits = role_exits("torchrun_core:s:a=3 torchrun_core_rc=a:137@1=3@2=?,")
    assert exits["a"].code == 137
    # rank 0 is unlisted (exited 0), rank 1 wrote 3, rank 2 was killed before writing.
    assert [exits["a"].replica_code(k) for k in range(3)] == [0, 3, 137]


def test_replica_exit_codes_in_the_app_status() -> None:
    job = SlurmJob(
        job_id="9", offset=0, slurm_state="FAILED", exit_code=3, name="x",
        comment="torchrun_core:s:w=2 torchrun_core_rc=w:3@1=3,", work_dir="/j",
        user="u", nodes="node[1-2]",
    )  # fmt: skip
    status = app_status(_app([job]), "slurm://s/9")
    assert [(r.state, r.exit_code) for r in status.roles[0].replicas] == [
        (AppState.SUCCEEDED, 0),
        (AppState.FAILED, 3),
    ]


def test_hostlists_expand_to_node_names() -> None:
    from torchrun_core.schedulers.slurm.app_status import expand_hostlist

    assert expand_hostlist("node[1-2]") == ["node1", "node2"]
    assert expand_hostlist("gpu[01-03,07],cpu5") == ["gpu01", "gpu02", "gpu03", "gpu07", "cpu5"]
    assert expand_hostlist("a[1-2]b,c") == ["a1b", "a2b", "c"]
    assert expand_hostlist("None assigned") == []
    assert expand_hostlist("n[x-2]") == []


def test_each_replica_reads_its_own_node() -> None:
    # 4 ranks, 2 per node: srun's block distribution puts ranks 0-1 on n1, 2-3 on n2.
    job = SlurmJob(
        job_id="9", offset=0, slurm_state="RUNNING", exit_code=None, name="x",
        comment="torchrun_core:s:w=4x2", work_dir="/j", user="u", nodes="n[1-2]",
    )  # fmt: skip
    status = app_status(_app([job]), "slurm://s/9")
    assert [r.hostname for r in status.roles[0].replicas] == ["n1", "n1", "n2", "n2"]
