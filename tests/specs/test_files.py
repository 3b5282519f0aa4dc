"""AppDef files (YAML/JSON round trips, read errors) and the exported JSON Schema."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from torchrun_core.errors import SpecError
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.mounts import BindMount, DeviceMount, VolumeMount
from torchrun_core.specs.resource import Resource
from torchrun_core.specs.retry import RetryPolicy


def full_app() -> AppDef:
    """An app that sets every field to a non-default value, so nothing can be lost."""
    trainer = Role(
        name="trainer",
        image="/srv/code",
        entrypoint="python",
        args=["-m", "train", "--lr=0.1", "with space", "ünïcode", "${app_id}"],
        env={"A": "1", "EMPTY": "", "QUOTE": 'it\'s "quoted"', "NUM": "007"},
        num_replicas=4,
        min_replicas=2,
        max_retries=3,
        retry_policy=RetryPolicy.REPLICA,
        resource=Resource(
            cpu="1500m", memory_mb="4Gi", gpu=1, devices={"x/efa": 2}, capabilities={"k": [1]}
        ),
        port_map={"http": 8080, "tb": 6006},
        mounts=[
            BindMount(src_path="/data", dst_path="/mnt/data", read_only=True),
            VolumeMount(src="cache", dst_path="/cache"),
            DeviceMount(src_path="/dev/fuse", dst_path="/dev/fuse", permissions="rw"),
        ],
        metadata={"nested": {"list": [1, 2.5, None, True]}},
    )
    return AppDef(
        name="job",
        roles=[trainer, Role(name="ps", entrypoint="ps-server")],
        metadata={"owner": "me"},
    )


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json", ".JSON", ".YAML"])
def test_file_round_trip_is_exact(tmp_path: Path, suffix: str) -> None:
    app = full_app()
    path = app.to_file(tmp_path / f"app{suffix}")
    assert path == tmp_path / f"app{suffix}"
    loaded = AppDef.from_file(path)
    assert loaded == app
    # Writing what was read gives the same text: files are stable under edit tools.
    first = path.read_text(encoding="utf-8")
    loaded.to_file(path)
    assert path.read_text(encoding="utf-8") == first


def test_round_trip_keeps_mount_kinds(tmp_path: Path) -> None:
    # The mount "type" is a default value, yet without it the file cannot be read back.
    app = full_app()
    for suffix in (".yaml", ".json"):
        mounts = AppDef.from_file(app.to_file(tmp_path / f"a{suffix}")).roles[0].mounts
        assert [type(m) for m in mounts] == [type(m) for m in app.roles[0].mounts]


def test_json_file_is_json_and_yaml_file_is_yaml(tmp_path: Path) -> None:
    app = full_app()
    as_json = json.loads(app.to_file(tmp_path / "a.json").read_text(encoding="utf-8"))
    as_yaml = yaml.safe_load(app.to_file(tmp_path / "a.yaml").read_text(encoding="utf-8"))
    assert as_json == as_yaml == app.to_dict()
    with pytest.raises(json.JSONDecodeError):
        json.loads((tmp_path / "a.yaml").read_text(encoding="utf-8"))


def test_to_dict_omits_defaults_but_keeps_required() -> None:
    data = AppDef(name="a", roles=[Role(name="r", entrypoint="e")]).to_dict()
    assert data == {"name": "a", "roles": [{"name": "r", "entrypoint": "e"}]}


def test_to_dict_is_json_compatible() -> None:
    data = full_app().to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["roles"][0]["retry_policy"] == "REPLICA"
    assert data["roles"][0]["resource"]["cpu"] == 1.5
    assert data["roles"][0]["resource"]["memory_mb"] == 4096


def test_yaml_file_written_by_hand(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(
        "name: hand\n"
        "roles:\n"
        "  - name: trainer\n"
        "    entrypoint: python\n"
        "    args: [-c, 'print(1)']\n"
        "    num_replicas: 2\n"
        "    resource: {cpu: 500m, memory_mb: 512Mi}\n"
        "    mounts:\n"
        "      - {type: bind, src_path: /a, dst_path: /b}\n",
        encoding="utf-8",
    )
    app = AppDef.from_file(path)
    assert app.roles[0].args == ["-c", "print(1)"]
    assert app.roles[0].resource == Resource(cpu=0.5, memory_mb=512)
    assert app.roles[0].mounts == [BindMount(src_path="/a", dst_path="/b")]


def test_unknown_suffix_is_written_and_read_as_yaml(tmp_path: Path) -> None:
    app = full_app()
    path = app.to_file(tmp_path / "app.spec")
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == app.to_dict()
    with pytest.raises(json.JSONDecodeError):
        json.loads(path.read_text(encoding="utf-8"))
    assert AppDef.from_file(path) == app


def test_json_content_in_yaml_file_is_read(tmp_path: Path) -> None:
    # JSON is YAML, so a .yaml file holding JSON works.
    path = tmp_path / "app.yaml"
    path.write_text(json.dumps(full_app().to_dict()), encoding="utf-8")
    assert AppDef.from_file(path) == full_app()


def test_tilde_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    full_app().to_file("~/app.yaml")
    assert (tmp_path / "app.yaml").exists()
    assert AppDef.from_file("~/app.yaml") == full_app()


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: a\nroles: [\n  - {name: r\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        AppDef.from_file(path)
    msg = str(info.value)
    assert str(path) in msg
    assert "YAML" in msg
    assert "\n" not in msg


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"name": "a", "roles": [', encoding="utf-8")
    with pytest.raises(SpecError) as info:
        AppDef.from_file(path)
    assert str(path) in str(info.value)
    assert "json" in str(info.value).lower()


def test_binary_file_is_a_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(SpecError, match=re.escape(str(path))):
        AppDef.from_file(path)


def test_missing_file_is_a_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(SpecError) as info:
        AppDef.from_file(path)
    assert str(path) in str(info.value)
    assert "No such file" in str(info.value)
    assert info.value.exit_code == 2


def test_directory_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=re.escape(str(tmp_path))):
        AppDef.from_file(tmp_path)


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n", "42\n"])
def test_non_mapping_file_is_a_spec_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        AppDef.from_file(path)
    assert str(path) in str(info.value)


def test_invalid_content_error_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(
        "name: a\nroles:\n  - {name: r, entrypoint: e, num_replicas: 0}\n", encoding="utf-8"
    )
    with pytest.raises(SpecError) as info:
        AppDef.from_file(path)
    assert str(path) in str(info.value)
    assert [p for p, _ in info.value.errors] == ["roles[0].num_replicas"]


# -- JSON Schema ------------------------------------------------------------------


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith("#/$defs/"), ref
    target: dict[str, Any] = root["$defs"][ref.removeprefix("#/$defs/")]
    return target


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def schema_errors(value: Any, schema: dict[str, Any], root: dict[str, Any], at: str) -> list[str]:
    """A small JSON Schema checker covering what pydantic emits (jsonschema is not a dep)."""
    schema = _resolve(schema, root)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            matches = [s for s in schema[key] if not schema_errors(value, s, root, at)]
            ok = len(matches) == 1 if key == "oneOf" else bool(matches)
            return [] if ok else [f"{at}: no {key} branch matches {value!r}"]
    errors: list[str] = []
    kind = schema.get("type")
    if kind is not None:
        is_bool = isinstance(value, bool)
        if not isinstance(value, _JSON_TYPES[kind]) or (is_bool and kind != "boolean"):
            return [f"{at}: {value!r} is not {kind}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{at}: {value!r} != const {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{at}: {value!r} not in {schema['enum']}")
    if "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{at}: {value!r} < {schema['minimum']}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{at}: {value!r} does not match {schema['pattern']}")
    if "minLength" in schema and len(value) < schema["minLength"]:
        errors.append(f"{at}: too short")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        errors += [f"{at}.{k}: required" for k in schema.get("required", []) if k not in value]
        for k, v in value.items():
            if k in props:
                errors += schema_errors(v, props[k], root, f"{at}.{k}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{at}.{k}: not allowed")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += schema_errors(v, schema["additionalProperties"], root, f"{at}.{k}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += schema_errors(item, schema["items"], root, f"{at}[{i}]")
    return errors


def test_json_schema_is_a_json_schema_with_role_fields() -> None:
    schema = AppDef.json_schema()
    json.dumps(schema)  # serialisable
    assert schema["type"] == "object"
    assert set(schema["required"]) == {"name", "roles"}
    assert schema["additionalProperties"] is False
    role = _resolve(schema["properties"]["roles"]["items"], schema)
    assert set(role["properties"]) == set(Role.model_fields)
    assert set(role["required"]) == {"name", "entrypoint"}
    assert role["additionalProperties"] is False
    assert "Resource" in schema["$defs"]
    for ref in re.findall(r'"\$ref": "#/\$defs/(\w+)"', json.dumps(schema)):
        assert ref in schema["$defs"]


def test_sample_files_validate_against_the_schema(tmp_path: Path) -> None:
    schema = AppDef.json_schema()
    written = json.loads(full_app().to_file(tmp_path / "a.json").read_text(encoding="utf-8"))
    assert schema_errors(written, schema, schema, "$") == []
    # What people write by hand: quantities and named resources.
    by_hand = {
        "name": "hand",
        "roles": [
            {"name": "a", "entrypoint": "e", "resource": {"cpu": "500m", "memory_mb": "4Gi"}},
            {"name": "b", "entrypoint": "e", "resource": {"cpu": 2, "memory_mb": 1024}},
            {"name": "c", "entrypoint": "e", "resource": "gpu.small"},
        ],
    }
    assert schema_errors(by_hand, schema, schema, "$") == []


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        ({"roles": [{"name": "r", "entrypoint": "e"}]}, "$.name"),
        ({"name": "a", "roles": [{"name": "r"}]}, "$.roles[0].entrypoint"),
        ({"name": "a", "roles": [{"name": "r", "entrypoint": "e", "x": 1}]}, "$.roles[0].x"),
        ({"name": "a", "roles": [{"name": "r", "entrypoint": "e", "num_replicas": 0}]}, "$.roles"),
        ({"name": "a", "roles": [{"name": "r", "entrypoint": "e", "args": "x"}]}, "$.roles"),
    ],
)
def test_schema_rejects_what_the_model_rejects(bad: dict[str, Any], where: str) -> None:
    schema = AppDef.json_schema()
    errors = schema_errors(bad, schema, schema, "$")
    assert any(e.startswith(where) for e in errors), errors
    with pytest.raises(SpecError):
        AppDef.parse(bad)


@pytest.mark.parametrize(
    "mount",
    [
        BindMount(src_path="/a", dst_path="/b"),
        VolumeMount(src="v", dst_path="/b"),
        DeviceMount(src_path="/dev/x", dst_path="/dev/x"),
    ],
)
def test_mount_dump_always_names_its_type(mount: BindMount | VolumeMount | DeviceMount) -> None:
    for data in (mount.model_dump(exclude_defaults=True), mount.model_dump(mode="json")):
        assert data["type"] == mount.type
    assert type(mount).model_validate(mount.model_dump(exclude_defaults=True)) == mount
