"""The with_* helpers: validated copies that never touch the original."""

from __future__ import annotations

from typing import Any

import pytest

from torchrun_core.errors import SpecError
from torchrun_core.specs.app import Role
from torchrun_core.specs.mounts import BindMount, DeviceMount, VolumeMount
from torchrun_core.specs.resource import Resource

from .test_app import make_app

# -- with_* helpers -------------------------------------------------------------


def test_role_with_env_merges_and_leaves_original() -> None:
    role = Role(name="r", entrypoint="e", env={"A": "1", "B": "2"})
    new = role.with_env({"B": "3"}, C="4")
    assert new.env == {"A": "1", "B": "3", "C": "4"}
    assert role.env == {"A": "1", "B": "2"}
    assert new is not role


def test_role_with_env_validates_keys() -> None:
    role = Role(name="r", entrypoint="e")
    with pytest.raises(SpecError) as info:
        role.with_env({"1BAD": "x"})
    assert [p for p, _ in info.value.errors] == ["env"]
    assert role.env == {}


def test_role_with_args_replace_and_append() -> None:
    role = Role(name="r", entrypoint="e", args=["a"])
    assert role.with_args("b", "c").args == ["b", "c"]
    assert role.with_args("b", append=True).args == ["a", "b"]
    assert role.with_args().args == []
    assert role.args == ["a"]


def test_role_with_replicas_validates() -> None:
    role = Role(name="r", entrypoint="e")
    assert role.with_replicas(3).num_replicas == 3
    assert role.with_replicas(3, min_replicas=2).min_replicas == 2
    with pytest.raises(SpecError) as info:
        role.with_replicas(0)
    assert "num_replicas" in str(info.value)
    with pytest.raises(SpecError, match="min_replicas"):
        role.with_replicas(2, min_replicas=3)
    assert role.num_replicas == 1


def test_role_with_resource_by_fields_keeps_other_fields() -> None:
    role = Role(name="r", entrypoint="e", resource=Resource(cpu=2, memory_mb=1024))
    new = role.with_resource(gpu=1, memory_mb="2Gi")
    assert new.resource == Resource(cpu=2, memory_mb=2048, gpu=1)
    assert role.resource == Resource(cpu=2, memory_mb=1024)


def test_role_with_resource_by_object_replaces() -> None:
    role = Role(name="r", entrypoint="e", resource=Resource(cpu=2, memory_mb=1024))
    new = role.with_resource(Resource(gpu=4))
    assert new.resource == Resource(gpu=4)
    assert role.resource.gpu == 0


def test_role_with_resource_object_and_fields_applies_fields_over_it() -> None:
    role = Role(name="r", entrypoint="e")
    new = role.with_resource(Resource(cpu=2), gpu=1)
    assert new.resource == Resource(cpu=2, gpu=1)


def test_role_with_resource_bad_field_raises_naming_it() -> None:
    role = Role(name="r", entrypoint="e")
    with pytest.raises(SpecError, match=r"resource\.memory_mb"):
        role.with_resource(memory_mb="512")
    with pytest.raises(SpecError, match=r"resource\.colour"):
        role.with_resource(colour="red")


def test_role_with_unknown_named_resource_raises() -> None:
    role = Role(name="r", entrypoint="e")
    with pytest.raises(SpecError, match="no-such-resource-xyz"):
        role.with_resource("no-such-resource-xyz")


def test_role_with_mounts_append_and_replace() -> None:
    first = BindMount(src_path="/a", dst_path="/b")
    role = Role(name="r", entrypoint="e", mounts=[first])
    second = VolumeMount(src="v", dst_path="/v")
    appended = role.with_mounts(second)
    assert appended.mounts == [first, second]
    replaced = role.with_mounts(
        {"type": "device", "src_path": "/dev/x", "dst_path": "/dev/y"}, append=False
    )
    assert replaced.mounts == [DeviceMount(src_path="/dev/x", dst_path="/dev/y")]
    assert role.mounts == [first]


def test_role_with_bad_mount_raises() -> None:
    role = Role(name="r", entrypoint="e")
    with pytest.raises(SpecError, match=r"mounts\[0\]"):
        role.with_mounts({"type": "bind", "src_path": "", "dst_path": "/b"})


def test_app_with_role_replaces_or_adds() -> None:
    app = make_app()
    replaced = app.with_role(Role(name="ps", entrypoint="other"))
    assert replaced.role_names == ["trainer", "ps"]
    assert replaced.role("ps").entrypoint == "other"
    added = app.with_role(Role(name="eval", entrypoint="ev"))
    assert added.role_names == ["trainer", "ps", "eval"]
    assert app.role("ps").entrypoint == "ps-server"
    assert app.role_names == ["trainer", "ps"]


def test_app_helpers_apply_to_all_roles_by_default() -> None:
    app = make_app()
    new = (
        app.with_env({"X": "1"})
        .with_args("--fast")
        .with_replicas(3)
        .with_resource(Resource(cpu=1))
        .with_mounts(BindMount(src_path="/a", dst_path="/b"))
    )
    for role in new.roles:
        assert role.env["X"] == "1"
        assert role.args == ["--fast"]
        assert role.num_replicas == 3
        assert role.resource == Resource(cpu=1)
        assert role.mounts == [BindMount(src_path="/a", dst_path="/b")]
    assert app == make_app()


def test_app_helpers_with_role_selection_touch_only_those_roles() -> None:
    app = make_app()
    new = app.with_env({"X": "1"}, roles=["ps"]).with_replicas(5, roles=["trainer"])
    assert "X" not in new.role("trainer").env
    assert new.role("ps").env == {"X": "1"}
    assert new.role("trainer").num_replicas == 5
    assert new.role("ps").num_replicas == 2
    assert app == make_app()


def test_app_helpers_accept_one_role_name_as_a_string() -> None:
    # A bare string must mean one role, not its characters.
    new = make_app().with_args("--x", roles="ps")
    assert new.role("ps").args == ["--x"]
    assert new.role("trainer").args == ["-m", "train"]


@pytest.mark.parametrize(
    "call",
    [
        lambda a: a.with_env({"X": "1"}, roles=["nope"]),
        lambda a: a.with_args("x", roles=["trainer", "nope"]),
        lambda a: a.with_replicas(2, roles=["nope"]),
        lambda a: a.with_resource(Resource(), roles=["nope"]),
        lambda a: a.with_mounts(roles=["nope"]),
    ],
)
def test_app_helpers_unknown_role_raise_key_error(call: Any) -> None:
    with pytest.raises(KeyError, match="nope"):
        call(make_app())


def test_app_with_replicas_zero_raises_with_role_path() -> None:
    app = make_app()
    with pytest.raises(SpecError) as info:
        app.with_replicas(0, roles=["ps"])
    assert "num_replicas" in str(info.value)
    assert app.role("ps").num_replicas == 2


def test_shared_base_spec_is_safe_to_reuse() -> None:
    base = Role(name="r", entrypoint="e", env={"A": "1"}, args=["x"])
    copies = [base.with_env(N=str(i)).with_args(str(i), append=True) for i in range(3)]
    assert [c.env["N"] for c in copies] == ["0", "1", "2"]
    assert [c.args for c in copies] == [["x", "0"], ["x", "1"], ["x", "2"]]
    assert base.env == {"A": "1"} and base.args == ["x"]
