"""AppDef and Role: construction, validation with field paths, and the with_* copy helpers."""

from __future__ import annotations

from typing import Any

import pytest

from torchrun_core.errors import InvalidInputError, SpecError
from torchrun_core.specs.app import AppDef, Role, field_path
from torchrun_core.specs.mounts import BindMount, DeviceMount, VolumeMount
from torchrun_core.specs.resource import Resource
from torchrun_core.specs.retry import RetryPolicy


def role_data(**over: Any) -> dict[str, Any]:
    return {"name": "trainer", "entrypoint": "python", **over}


def app_data(*roles: dict[str, Any], **over: Any) -> dict[str, Any]:
    return {"name": "app", "roles": list(roles) or [role_data()], **over}


def parse_errors(data: Any) -> SpecError:
    with pytest.raises(SpecError) as info:
        AppDef.parse(data)
    return info.value


def assert_rejects(data: Any, path: str, fragment: str = "") -> SpecError:
    """Parsing ``data`` fails with an error at exactly ``path`` whose message has ``fragment``."""
    err = parse_errors(data)
    paths = [p for p, _ in err.errors]
    assert path in paths, f"expected an error at {path!r}, got {err.errors}"
    assert path in str(err)
    if fragment:
        msg = dict(err.errors)[path]
        assert fragment.lower() in msg.lower(), msg
    assert isinstance(err, InvalidInputError)
    assert err.exit_code == 2
    return err


def make_app() -> AppDef:
    return AppDef(
        name="job",
        roles=[
            Role(name="trainer", entrypoint="python", args=["-m", "train"], env={"A": "1"}),
            Role(name="ps", entrypoint="ps-server", num_replicas=2),
        ],
    )


# -- valid construction -------------------------------------------------------


def test_minimal_role_gets_documented_defaults() -> None:
    role = Role(name="r", entrypoint="echo")
    assert role.image == ""
    assert role.args == []
    assert role.env == {}
    assert role.num_replicas == 1
    assert role.min_replicas is None
    assert role.max_retries == 0
    assert role.retry_policy is RetryPolicy.APPLICATION
    assert role.resource == Resource()
    assert role.port_map == {}
    assert role.mounts == []
    assert role.metadata == {}


def test_full_role_from_plain_data() -> None:
    app = AppDef.parse(
        app_data(
            role_data(
                image="/srv/code",
                args=["-c", "print(1)"],
                env={"MY_VAR": "x", "_UNDER": "y", "lower_ok9": "z"},
                num_replicas=4,
                min_replicas=2,
                max_retries=3,
                retry_policy="REPLICA",
                resource={"cpu": "500m", "memory_mb": "1Gi", "gpu": 2},
                port_map={"http": 8080, "max": 65535, "min": 1},
                mounts=[
                    {"type": "bind", "src_path": "/data", "dst_path": "/mnt/data"},
                    {"type": "volume", "src": "cache", "dst_path": "/cache", "read_only": True},
                    {"type": "device", "src_path": "/dev/fuse", "dst_path": "/dev/fuse"},
                ],
                metadata={"team": {"nested": [1, 2]}},
            ),
            role_data(name="worker.v2"),
            metadata={"owner": "me"},
        )
    )
    role = app.role("trainer")
    assert app.role_names == ["trainer", "worker.v2"]
    assert role.retry_policy is RetryPolicy.REPLICA
    assert role.resource == Resource(cpu=0.5, memory_mb=1024, gpu=2)
    assert [m.type for m in role.mounts] == ["bind", "volume", "device"]
    assert isinstance(role.mounts[0], BindMount)
    assert isinstance(role.mounts[1], VolumeMount)
    assert role.mounts[1].read_only is True
    assert isinstance(role.mounts[2], DeviceMount)
    assert role.mounts[2].permissions == "rwm"
    assert role.num_replicas == 4 and role.min_replicas == 2
    assert app.metadata == {"owner": "me"}


def test_specs_are_frozen() -> None:
    role = Role(name="r", entrypoint="echo")
    with pytest.raises(ValueError):
        role.num_replicas = 3  # type: ignore[misc]
    assert role.num_replicas == 1


def test_role_lookup_unknown_name_lists_roles() -> None:
    app = make_app()
    assert app.role("ps").num_replicas == 2
    with pytest.raises(KeyError, match=r"nope.*trainer.*ps"):
        app.role("nope")


def test_retry_policy_values() -> None:
    assert {p.value for p in RetryPolicy} == {"REPLICA", "ROLE", "APPLICATION"}
    assert str(RetryPolicy.ROLE) == "ROLE"


# -- validation: each rule names the field path ------------------------------


def test_duplicate_role_names_rejected_at_roles() -> None:
    err = assert_rejects(app_data(role_data(), role_data()), "roles", "duplicate")
    assert "trainer" in dict(err.errors)["roles"]


@pytest.mark.parametrize("name", ["", "  ", "-lead", "has space", "x" * 64])
def test_bad_app_name_rejected(name: str) -> None:
    assert_rejects(app_data(name=name), "name")


@pytest.mark.parametrize("name", ["", "  ", "a/b"])
def test_bad_role_name_rejected(name: str) -> None:
    assert_rejects(app_data(role_data(name=name)), "roles[0].name")


@pytest.mark.parametrize("entrypoint", ["", "  ", "\t\n"])
def test_empty_or_blank_entrypoint_rejected(entrypoint: str) -> None:
    assert_rejects(app_data(role_data(entrypoint=entrypoint)), "roles[0].entrypoint")


def test_missing_required_fields_named() -> None:
    assert_rejects({"roles": [role_data()]}, "name", "required")
    assert_rejects(app_data(role_data(entrypoint=None)), "roles[0].entrypoint")
    assert_rejects({"name": "a", "roles": [{"name": "r"}]}, "roles[0].entrypoint", "required")
    assert_rejects({"name": "a"}, "roles", "required")
    assert_rejects({"name": "a", "roles": []}, "roles")


@pytest.mark.parametrize("replicas", [0, -1])
def test_replicas_below_one_rejected(replicas: int) -> None:
    assert_rejects(app_data(role_data(num_replicas=replicas)), "roles[0].num_replicas")


def test_min_replicas_above_num_rejected_naming_min_replicas() -> None:
    err = assert_rejects(
        app_data(role_data(num_replicas=2, min_replicas=3)), "roles[0].min_replicas"
    )
    assert "num_replicas" in dict(err.errors)["roles[0].min_replicas"]
    # equal is fine
    assert AppDef.parse(app_data(role_data(num_replicas=2, min_replicas=2)))


def test_min_replicas_below_one_rejected() -> None:
    assert_rejects(app_data(role_data(min_replicas=0)), "roles[0].min_replicas")


def test_error_path_points_at_the_second_role() -> None:
    err = assert_rejects(
        app_data(role_data(), role_data(name="b", num_replicas=0)), "roles[1].num_replicas"
    )
    assert all(not p.startswith("roles[0]") for p, _ in err.errors)


@pytest.mark.parametrize("key", ["1X", "A-B", "", "A B", "é"])
def test_bad_env_keys_rejected(key: str) -> None:
    err = assert_rejects(app_data(role_data(env={"GOOD": "1", key: "v"})), "roles[0].env")
    msg = dict(err.errors)["roles[0].env"]
    assert repr(key) in msg
    assert "'GOOD'" not in msg


def test_non_string_env_value_rejected_with_key_path() -> None:
    assert_rejects(app_data(role_data(env={"A": 1})), "roles[0].env.A")


def test_non_string_arg_rejected_with_index_path() -> None:
    assert_rejects(app_data(role_data(args=["ok", 3])), "roles[0].args[1]")


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (app_data(colour="red"), "colour"),
        (app_data(role_data(colour="red")), "roles[0].colour"),
        (app_data(role_data(resource={"cpu": 1, "colour": "red"})), "roles[0].resource.colour"),
    ],
)
def test_unknown_fields_rejected(data: dict[str, Any], path: str) -> None:
    assert_rejects(data, path, "extra")


def test_unknown_mount_field_rejected_under_the_mount() -> None:
    mount = {"type": "bind", "src_path": "/a", "dst_path": "/b", "colour": "red"}
    err = parse_errors(app_data(role_data(mounts=[mount])))
    [(path, msg)] = err.errors
    assert path.startswith("roles[0].mounts[0]")
    assert path.endswith("colour")
    assert "extra" in msg.lower()
    assert path in str(err)


def test_unknown_mount_type_rejected() -> None:
    mount = {"type": "nfs", "src_path": "/a", "dst_path": "/b"}
    err = assert_rejects(app_data(role_data(mounts=[mount])), "roles[0].mounts[0]")
    assert "nfs" in dict(err.errors)["roles[0].mounts[0]"]


def test_bad_device_permissions_rejected() -> None:
    mount = {"type": "device", "src_path": "/dev/x", "dst_path": "/dev/x", "permissions": "rx"}
    err = parse_errors(app_data(role_data(mounts=[mount])))
    assert any(p.endswith("permissions") for p, _ in err.errors), err.errors


@pytest.mark.parametrize("port", [0, -1, 65536, 70000])
def test_bad_port_rejected(port: int) -> None:
    err = assert_rejects(app_data(role_data(port_map={"http": port})), "roles[0].port_map")
    assert str(port) in dict(err.errors)["roles[0].port_map"]


def test_negative_max_retries_rejected() -> None:
    assert_rejects(app_data(role_data(max_retries=-1)), "roles[0].max_retries")


def test_unknown_retry_policy_rejected() -> None:
    assert_rejects(app_data(role_data(retry_policy="SOMETIMES")), "roles[0].retry_policy")


def test_unknown_named_resource_rejected_at_role_resource() -> None:
    err = assert_rejects(
        app_data(role_data(resource="no-such-resource-xyz")), "roles[0].resource", "unknown"
    )
    assert "no-such-resource-xyz" in str(err)


@pytest.mark.parametrize("data", [None, [], "app", 3])
def test_non_mapping_rejected_at_root(data: Any) -> None:
    assert_rejects(data, "<root>")


def test_all_errors_listed_and_message_capped() -> None:
    roles = [role_data(name=f"r{i}", num_replicas=0) for i in range(7)]
    err = parse_errors(app_data(*roles))
    assert [p for p, _ in err.errors] == [f"roles[{i}].num_replicas" for i in range(7)]
    assert "(+2 more)" in str(err)
    assert "\n" not in str(err)


def test_parse_names_the_source() -> None:
    with pytest.raises(SpecError, match=r"invalid my\.yaml: roles\[0\]\.num_replicas"):
        AppDef.parse(app_data(role_data(num_replicas=0)), source="my.yaml")


def test_direct_construction_also_validates() -> None:
    with pytest.raises(ValueError):
        Role(name="r", entrypoint="  ")
    with pytest.raises(ValueError):
        AppDef(name="a", roles=[Role(name="r", entrypoint="x"), Role(name="r", entrypoint="y")])


def test_field_path_formatting() -> None:
    assert field_path(("roles", 0, "env")) == "roles[0].env"
    assert field_path(("roles", 2, "mounts", 1, "src")) == "roles[2].mounts[1].src"
    assert field_path(("name",)) == "name"
    assert field_path(()) == "<root>"
