"""The local scheduler's dry run: the Popen plan, options, ids, plugin registration."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from local_apps import app_of

from torchrun_core.errors import InvalidInputError, InvalidOptionError
from torchrun_core.registry import load_plugins
from torchrun_core.schedulers.local import LocalOptions, LocalScheduler
from torchrun_core.schedulers.local.plan import LocalPlan
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.handle import AppHandle
from torchrun_core.specs.macros import RANK0_HOST_ENV


def test_plan_has_argv_cwd_env_and_logs_per_replica(sched: LocalScheduler, workdir: Path) -> None:
    role = Role(
        name="trainer",
        image=str(workdir),
        entrypoint="python3",
        args=["train.py", "--rank", "${replica_id}", "--out", "${img_root}/out"],
        env={"RUN": "${app_id}-${replica_id}", "PLAIN": "x"},
        num_replicas=3,
        max_retries=2,
        retry_policy="REPLICA",
    )
    info = sched.dryrun(app_of(role, name="job"))
    plan = info.request
    assert isinstance(plan, LocalPlan)
    assert info.app_id == plan.app_id and info.scheduler == "local" and info.session == "test"
    (role_plan,) = plan.roles
    assert (role_plan.retry_policy, role_plan.max_retries) == ("REPLICA", 2)
    for k, rep in enumerate(role_plan.replicas):
        assert rep.argv == ("python3", "train.py", "--rank", str(k), "--out", f"{workdir}/out")
        assert rep.cwd == str(workdir)
        assert rep.env["RUN"] == f"{plan.app_id}-{k}"
        assert rep.env["PLAIN"] == "x"
        assert rep.env["TORCHRUN_CORE_ROLE"] == "trainer"
        assert rep.env["TORCHRUN_CORE_REPLICA_ID"] == str(k)
        assert rep.env["TORCHRUN_CORE_NUM_REPLICAS"] == "3"
        assert rep.env["TORCHRUN_CORE_APP_ID"] == plan.app_id
        assert rep.env[RANK0_HOST_ENV] == "localhost"
        assert rep.log_dir == f"{plan.app_dir}/logs/trainer/{k}"
    assert plan.app_dir == str(sched.session_dir / plan.app_id)


def test_app_ids_are_unique_and_valid_in_handles(sched: LocalScheduler) -> None:
    app = app_of(Role(name="r", entrypoint="true"), name="my.app_1")
    ids = {sched.dryrun(app).request.app_id for _ in range(200)}
    assert len(ids) == 200
    for app_id in ids:
        assert re.fullmatch(r"my\.app_1-[a-z0-9]{8}", app_id)
        assert AppHandle.parse(f"local://test/{app_id}").app_id == app_id


def test_empty_image_is_the_cwd_at_dryrun(
    sched: LocalScheduler, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workdir)
    plan = sched.dryrun(app_of(Role(name="r", entrypoint="true"))).request
    assert plan.roles[0].replicas[0].cwd == str(workdir)
    relative = sched.dryrun(app_of(Role(name="r", image=".", entrypoint="true"))).request
    assert relative.roles[0].replicas[0].cwd == str(workdir)


def test_missing_image_dir_names_role_and_path(sched: LocalScheduler, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    app = app_of(
        Role(name="ok", entrypoint="true"), Role(name="bad", image=str(missing), entrypoint="true")
    )
    with pytest.raises(InvalidInputError) as err:
        sched.dryrun(app)
    assert "'bad'" in str(err.value) and str(missing) in str(err.value)
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(InvalidInputError, match="not a directory"):
        sched.dryrun(app_of(Role(name="r", image=str(a_file), entrypoint="true")))


def test_dryrun_text_is_readable_and_redacted(
    sched: LocalScheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAUNCHER_SECRET_TOKEN", "launcher-secret-value")
    role = Role(
        name="r",
        entrypoint="sh",
        args=["-c", "echo 'a b' $HOME"],
        env={"WANDB_API_KEY": "role-secret-value", "VISIBLE": "shown"},
    )
    info = sched.dryrun(app_of(role))
    text = str(info)
    assert "role-secret-value" not in text and "launcher-secret-value" not in text
    assert "WANDB_API_KEY='***'" in text
    assert "VISIBLE=shown" in text
    assert "sh -c 'echo '\"'\"'a b'\"'\"' $HOME'" in text  # shell-quoted argv
    assert info.request.app_id in text and "SIGKILL after 5s" in text
    # The plan itself keeps the real value: schedule() must run it.
    assert info.request.roles[0].replicas[0].env["WANDB_API_KEY"] == "role-secret-value"
    assert info.request.to_dict()["roles"][0]["replicas"][0]["env"]["WANDB_API_KEY"] == "***"


def test_options_log_dir_and_grace_period(sched: LocalScheduler, tmp_path: Path) -> None:
    plan = sched.dryrun(
        app_of(Role(name="r", entrypoint="true")),
        {"log_dir": str(tmp_path / "logs"), "grace_period": 0.5},
    ).request
    assert plan.log_dir == str(tmp_path / "logs" / plan.app_id)
    assert plan.roles[0].replicas[0].log_dir == f"{tmp_path}/logs/{plan.app_id}/r/0"
    assert plan.grace_period == 0.5
    default = sched.dryrun(app_of(Role(name="r", entrypoint="true"))).request
    assert default.log_dir == f"{default.app_dir}/logs"


@pytest.mark.parametrize(
    ("cfg", "option"),
    [({"grace_period": -1}, "grace_period"), ({"nope": 1}, "nope"), ({"log_dir": 3}, "log_dir")],
)
def test_bad_options_name_the_option(
    sched: LocalScheduler, cfg: dict[str, object], option: str
) -> None:
    with pytest.raises(InvalidOptionError) as err:
        sched.dryrun(app_of(Role(name="r", entrypoint="true")), cfg)
    assert err.value.context["option"] == option


def test_run_opts_describe_every_option() -> None:
    opts = {o.name: o for o in LocalScheduler.run_opts()}
    assert set(opts) == set(LocalOptions.model_fields) == {"log_dir", "grace_period"}
    assert opts["grace_period"].default == 5.0
    assert all(o.help for o in opts.values())


def test_thousand_replicas_share_nothing_mutable(sched: LocalScheduler) -> None:
    role = Role(
        name="w",
        entrypoint="echo",
        args=["${replica_id}"],
        env={"A": "${app_id}"},
        num_replicas=1000,
    )
    plan = sched.dryrun(app_of(role)).request
    reps = plan.roles[0].replicas
    assert [r.argv[1] for r in reps] == [str(k) for k in range(1000)]
    reps[0].env["A"] = "changed"
    assert reps[1].env["A"] == plan.app_id


def test_injected_rank_info_wins_over_role_env(sched: LocalScheduler) -> None:
    role = Role(
        name="r",
        entrypoint="true",
        env={"TORCHRUN_CORE_REPLICA_ID": "${app_id}", "TORCHRUN_CORE_ROLE": "x"},
    )
    rep = sched.dryrun(app_of(role)).request.roles[0].replicas[0]
    assert rep.env["TORCHRUN_CORE_REPLICA_ID"] == "0" and rep.env["TORCHRUN_CORE_ROLE"] == "r"


def test_schedule_checks_its_dryrun(sched: LocalScheduler) -> None:
    info = sched.dryrun(app_of(Role(name="r", entrypoint="true")))
    sched.schedule(info)
    with pytest.raises(InvalidInputError, match="already scheduled"):
        sched.schedule(info)
    info.scheduler = "docker"
    with pytest.raises(InvalidInputError, match="docker"):
        sched.schedule(info)


def test_session_and_params_are_validated(state_dir: Path) -> None:
    for bad in ("", "..", "a/b", "x y"):
        with pytest.raises(InvalidInputError):
            LocalScheduler(bad)
    with pytest.raises(InvalidOptionError, match="bogus"):
        LocalScheduler("ok", bogus=1)
    assert (
        LocalScheduler("ok", state_dir=state_dir / "other").session_dir
        == state_dir / "other" / "local" / "ok"
    )


def test_registered_through_the_entry_point(state_dir: Path) -> None:
    factory = load_plugins().scheduler_factory("local")
    sched = factory("sess")
    assert isinstance(sched, LocalScheduler)
    assert (sched.name, sched.session) == ("local", "sess")


def test_plugin_module_is_light() -> None:
    """Plugin discovery imports ``local``; it must not pull in pydantic or the scheduler."""
    code = (
        "import sys, torchrun_core.schedulers.local as m\n"
        "names = ('pydantic', 'torchrun_core.schedulers.local.scheduler')\n"
        "heavy = [n for n in names if n in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert m.torchrun_core_schedulers()['local'].endswith(':LocalScheduler')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ))


def test_unknown_app_ids_are_not_found(sched: LocalScheduler) -> None:
    for app_id in ("nope-12345678", "../../etc", ".", "a/b"):
        assert sched.describe(app_id) is None
        assert not sched.exists(app_id)


def test_appdef_is_not_copied_per_replica(sched: LocalScheduler) -> None:
    app = AppDef(name="a", roles=[Role(name="r", entrypoint="true", num_replicas=5)])
    info = sched.dryrun(app)
    assert info.app is app


def test_nul_bytes_are_rejected_at_dryrun(sched: LocalScheduler) -> None:
    for role in (
        Role(name="r", entrypoint="echo", args=["a\0b"]),
        Role(name="r", entrypoint="true", env={"A": "x\0"}),
    ):
        with pytest.raises(InvalidInputError, match="NUL"):
            sched.dryrun(app_of(role))
