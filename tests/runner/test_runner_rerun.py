"""Runner.rerun on the real local scheduler: lineage, overrides, tracker env, secrets, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from inmemory_scheduler import Observer

from torchrun_core.errors import (
    AppNotFoundError,
    InvalidInputError,
    MalformedHandleError,
    SpecError,
)
from torchrun_core.runner import Runner
from torchrun_core.runner.rerun import apply_overrides, injected_keys, without_tracker_env
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.handle import AppHandle
from torchrun_core.specs.resource import Resource
from torchrun_core.specs.state import AppState
from torchrun_core.tracking import env as tracker_env

# Each replica prints its id, its own env var, and what the Runner told it about its lineage.
PRINT_ENV = (
    "echo $TORCHRUN_CORE_REPLICA_ID $FOO $TORCHRUN_CORE_PARENT_RUN_ID $TORCHRUN_CORE_APP_HANDLE"
)


@pytest.fixture
def runner() -> Iterator[Runner]:
    with Runner("t") as made:
        yield made


def _app(**role: object) -> AppDef:
    base: dict[str, object] = {
        "name": "lineage",
        "entrypoint": "sh",
        "args": ["-c", PRINT_ENV],
        "env": {"FOO": "bar"},
    }
    return AppDef(name="lineage", roles=[Role.model_validate({**base, **role})])


def _user_env(app: AppDef | None) -> list[dict[str, str]]:
    assert app is not None
    return [without_tracker_env(app).roles[i].env for i in range(len(app.roles))]


def test_rerun_is_a_child_with_the_same_spec_and_the_overrides(
    runner: Runner, tmp_path: Path
) -> None:
    old = runner.run(_app(), "local", cfg={"grace_period": 1.5})
    assert runner.wait(old, timeout=60).state is AppState.SUCCEEDED

    new = runner.rerun(
        old,
        cfg={"log_dir": str(tmp_path / "logs")},
        replicas={"lineage": 2},
        resources={"lineage": {"memMB": 512}},
    )
    assert new != old
    status = runner.wait(new, timeout=60)
    assert status.state is AppState.SUCCEEDED
    assert [len(role.replicas) for role in status.roles] == [2]  # really ran 2 replicas

    old_record, new_record = runner.describe(old), runner.describe(new)
    assert new_record.parent_run_id == str(old)
    assert new_record.cfg["grace_period"] == 1.5  # recorded option kept
    assert new_record.cfg["log_dir"] == str(tmp_path / "logs")  # override merged over it
    assert new_record.app is not None and old_record.app is not None
    new_role, old_role = new_record.app.roles[0], old_record.app.roles[0]
    assert new_role.resource.memory_mb == 512
    assert old_role.resource.memory_mb == 0
    assert (new_role.num_replicas, old_role.num_replicas) == (2, 1)
    assert (new_role.entrypoint, new_role.args) == (old_role.entrypoint, old_role.args)
    assert _user_env(new_record.app) == _user_env(old_record.app) == [{"FOO": "bar"}]
    # The job sees the new handle, and the old run as its parent.
    for k in (0, 1):
        assert list(runner.log_lines(new, k=k)) == [f"{k} bar {old} {new}\n"]
    assert (tmp_path / "logs" / new.app_id).is_dir()


def test_rerun_replaces_the_tracker_env_and_keeps_the_users(runner: Runner) -> None:
    # The user's own TORCHRUN_CORE_* variable is not one the Runner injects: it stays.
    app = _app(env={"FOO": "bar", "TORCHRUN_CORE_MY_OWN": "1"})
    with Runner("t", tracker_config={"file": "root=/tmp/x", "other": None}) as tracked:
        old = tracked.run(app, "local", parent_run_id="local://t/grandparent-1")
    old_env = runner.describe(old).app.roles[0].env  # type: ignore[union-attr]
    assert old_env[tracker_env.TRACKERS_ENV] == "file,other"
    assert old_env[tracker_env.tracker_config_env("file")] == "root=/tmp/x"

    with Runner("t", tracker_config={}) as untracked:  # a runner with no tracker at all
        info = untracked.dryrun_rerun(old)
    env = info.app.roles[0].env
    assert env[tracker_env.PARENT_RUN_ID_ENV] == str(old)
    assert env[tracker_env.APP_HANDLE_ENV] == "local://t/${app_id}"  # expanded by the scheduler
    assert tracker_env.TRACKERS_ENV not in env
    assert tracker_env.tracker_config_env("file") not in env
    assert env["TORCHRUN_CORE_MY_OWN"] == "1" and env["FOO"] == "bar"


def test_injected_keys_are_exactly_what_tracker_env_adds() -> None:
    trackers = {"file": "root=/r", "ml.flow": None}
    added = tracker_env.tracker_env("local", "s", "local://s/p-1", trackers)
    user = {"FOO": "1", "TORCHRUN_CORE_TRACKER_OTHER_CONFIG": "x", "TORCHRUN_CORE_X": "y"}
    assert injected_keys({**user, **added}) == set(added)
    app = tracker_env.inject_env(_app(env=user), added)
    assert without_tracker_env(app).roles[0].env == user


def test_dryrun_rerun_submits_nothing(runner: Runner) -> None:
    old = runner.run(_app(), "local")
    info = runner.dryrun_rerun(old, replicas={"*": 3})
    assert info.app.roles[0].num_replicas == 3
    assert [r.handle for r in runner.list()] == [str(old)]


def test_rerun_of_unknown_or_malformed_handle(runner: Runner) -> None:
    with pytest.raises(AppNotFoundError, match="local://t/nope-1"):
        runner.rerun("local://t/nope-1")
    with pytest.raises(MalformedHandleError):
        runner.rerun("not a handle")


def test_rerun_of_a_run_without_recorded_spec(runner: Runner) -> None:
    handle = "local://t/foreign-1"
    runner.store.add_run(
        handle, scheduler="local", session="t", app_id="foreign-1", app_name="foreign",
        app_json=None, cfg={}, parent_run_id=None,
    )  # fmt: skip
    with pytest.raises(InvalidInputError, match="no recorded app spec") as err:
        runner.rerun(handle)
    assert not isinstance(err.value, AppNotFoundError)


def test_override_errors_name_the_role_or_field(runner: Runner) -> None:
    old = runner.run(_app(), "local")
    with pytest.raises(InvalidInputError, match="no role 'trainer'; its roles: lineage"):
        runner.rerun(old, replicas={"trainer": 2})
    with pytest.raises(InvalidInputError, match="no role 'x'"):
        runner.dryrun_rerun(old, resources={"x": {"cpu": 1}})
    with pytest.raises(SpecError, match=r"roles\[0\]\.resource\.vram"):
        runner.rerun(old, resources={"lineage": {"vram": 1}})
    with pytest.raises(SpecError, match=r"roles\[0\]\.num_replicas"):
        runner.rerun(old, replicas={"lineage": 0})
    with pytest.raises(TypeError, match="replica"):
        runner.rerun(old, replica={"lineage": 2})  # type: ignore[call-arg]
    assert [r.handle for r in runner.list()] == [str(old)]  # nothing was submitted


def test_secret_env_must_be_given_again(runner: Runner) -> None:
    app = _app(args=["-c", "echo $API_TOKEN"], env={"API_TOKEN": "s3cr3t-value"})
    old = runner.run(app, "local")
    with pytest.raises(InvalidInputError, match="API_TOKEN"):
        runner.rerun(old)
    new = runner.rerun(old, env={"API_TOKEN": "n3w-s3cr3t"})
    assert runner.wait(new, timeout=60).state is AppState.SUCCEEDED
    assert list(runner.log_lines(new)) == ["n3w-s3cr3t\n"]


def test_rerun_on_another_scheduler_drops_the_recorded_options(runner: Runner) -> None:
    old = runner.run(_app(), "local", cfg={"grace_period": 2.0})
    runner.store.add_run(  # the same run as if recorded by another scheduler
        "other://t/x-1", scheduler="other", session="t", app_id="x-1", app_name="lineage",
        app_json=runner.describe(old).app.model_dump_json(),  # type: ignore[union-attr]
        cfg={"queue": "gpu"}, parent_run_id=None,
    )  # fmt: skip
    info = runner.dryrun_rerun("other://t/x-1", scheduler="local")
    assert info.cfg.grace_period == 5.0  # the default: "queue" was not carried over


def test_apply_overrides_every_role_and_min_replicas() -> None:
    app = AppDef(
        name="a",
        roles=[
            Role(name="w", entrypoint="x", num_replicas=4, min_replicas=3),
            Role(name="p", entrypoint="x", resource=Resource(cpu=2, memory_mb=100)),
        ],
    )
    new = apply_overrides(
        app,
        replicas={"*": 2, "p": 1},
        resources={"*": {"gpu": 1}, "w": Resource(cpu=8)},
        env={"A": "1"},
    )
    w, p = new.roles
    assert (w.num_replicas, w.min_replicas, p.num_replicas) == (2, 2, 1)
    assert w.resource == Resource(cpu=8)
    assert p.resource == Resource(cpu=2, memory_mb=100, gpu=1)
    assert w.env == p.env == {"A": "1"}
    assert (
        apply_overrides(app, resources={"p": {"memory": "1Gi"}}).roles[1].resource.memory_mb == 1024
    )


def test_rerun_fires_one_event_naming_the_new_run(runner: Runner) -> None:
    old = runner.run(_app(), "local")
    observer = Observer()
    runner.registry.register(observer, name="test-observer")
    new = runner.rerun(old)
    assert observer.apis() == ["rerun"]
    assert observer.events[0].handle == str(new) and observer.events[0].error is None
    assert isinstance(new, AppHandle) and new.session == "t"
