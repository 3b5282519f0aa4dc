"""The bad-input corpus, in Python: each call raises the right TorchrunCoreError, with a hint.

The error's ``str`` is one line (what the CLI prints after ``error:``), it
carries a ``hint``, and its exit code is the documented one (2 for bad input).
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bad_inputs import FILES, write_files
from bad_inputs.api_cases import APP, LIMIT_CASES, SECRET, UNKNOWN, ApiCase

from torchrun_core import errors
from torchrun_core.component_loading.loader import build_app, load_component
from torchrun_core.config import clear_cache, load_config
from torchrun_core.runner import Runner
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.handle import parse_handle
from torchrun_core.specs.mounts import BindMount
from torchrun_core.specs.resource import Resource


def _role_data(**fields: Any) -> dict[str, Any]:
    return {"name": "r", "entrypoint": "x", **fields}


def _config_with_bad_key(_: Runner, d: Path) -> Any:
    write_files(d, {".torchrun_core.toml": FILES[".torchrun_core.toml"]})
    return load_config(cwd=d, environ={"TORCHRUN_CORE_USER_CONFIG_DIR": str(d / "user")})


CASES = [
    # names
    ApiCase(
        "unknown-scheduler",
        lambda r, d: r.dryrun(APP, "nosuch"),
        errors.UnknownSchedulerError,
        "nosuch",
    ),
    ApiCase(
        "unknown-component",
        lambda r, d: r.dryrun_component("nope.missing"),
        errors.ComponentError,
        "nope.missing",
    ),
    ApiCase(
        "unknown-option",
        lambda r, d: r.dryrun(APP, cfg={"colour": "red"}),
        errors.InvalidOptionError,
        "'colour': unknown option",
    ),
    ApiCase(
        "bad-option-value",
        lambda r, d: r.dryrun(APP, cfg={"grace_period": -1}),
        errors.InvalidOptionError,
        "grace_period",
    ),
    ApiCase(
        "bad-runner-name",
        lambda r, d: Runner("not a name"),
        errors.InvalidInputError,
        "invalid runner name",
    ),
    # component arguments
    ApiCase(
        "missing-component-argument",
        lambda r, d: build_app(f"{d}/components.py:needs_name", []),
        errors.ComponentError,
        "--name",
    ),
    ApiCase(
        "unknown-component-argument",
        lambda r, d: r.dryrun_component("utils.echo", ["--colour", "red"]),
        errors.ComponentError,
        "--colour",
    ),
    ApiCase(
        "wrong-type",
        lambda r, d: build_app("utils.echo", ["--num_replicas", "many"]),
        errors.ComponentError,
        "invalid int value",
    ),
    ApiCase(
        "negative-replicas",
        lambda r, d: r.dryrun_component("utils.echo", ["--num_replicas", "-1"]),
        errors.SpecError,
        "num_replicas",
    ),
    ApiCase(
        "negative-replicas-copy",
        lambda r, d: APP.with_replicas(-1),
        errors.SpecError,
        "num_replicas",
    ),
    ApiCase(
        "missing-image-dir",
        lambda r, d: r.dryrun(APP.with_role(Role(name="r", entrypoint="true", image=f"{d}/no"))),
        errors.InvalidInputError,
        "is not a directory",
    ),
    # handles and apps
    ApiCase(
        "malformed-handle",
        lambda r, d: parse_handle("local:/default/x"),
        errors.MalformedHandleError,
        "malformed",
    ),
    ApiCase(
        "malformed-handle-status",
        lambda r, d: r.status("not-a-handle"),
        errors.MalformedHandleError,
        "not-a-handle",
    ),
    ApiCase("unknown-app-status", lambda r, d: r.status(UNKNOWN), errors.AppNotFoundError, "no"),
    ApiCase("unknown-app-cancel", lambda r, d: r.cancel(UNKNOWN), errors.AppNotFoundError, "no"),
    ApiCase(
        "unknown-app-log",
        lambda r, d: r.log_lines(UNKNOWN),  # raises at the call, before any next()
        errors.AppNotFoundError,
        "no",
    ),
    ApiCase(
        "unknown-app-wait",
        lambda r, d: r.wait(UNKNOWN, timeout=30),
        errors.AppNotFoundError,
        "no",
    ),
    ApiCase(
        "unknown-app-describe",
        lambda r, d: r.describe(UNKNOWN),
        errors.AppNotFoundError,
        "no",
    ),
    ApiCase(
        "unknown-app-events",
        lambda r, d: r.events(UNKNOWN),
        errors.AppNotFoundError,
        "no",
    ),
    # app files and specs
    ApiCase(
        "app-file-bad-field",
        lambda r, d: AppDef.from_file(d / "bad_field.yaml"),
        errors.SpecError,
        "roles[0].colour",
    ),
    ApiCase(
        "app-file-yaml-syntax",
        lambda r, d: AppDef.from_file(d / "yaml_syntax.yaml"),
        errors.SpecError,
        "yaml_syntax.yaml:4:1",
    ),
    ApiCase(
        "app-file-empty",
        lambda r, d: AppDef.from_file(d / "empty.yaml"),
        errors.SpecError,
        "is empty",
    ),
    ApiCase(
        "app-file-json-syntax",
        lambda r, d: AppDef.from_file(d / "json_syntax.json"),
        errors.SpecError,
        "not valid JSON",
    ),
    ApiCase(
        "app-file-missing",
        lambda r, d: AppDef.from_file(d / "missing.yaml"),
        errors.SpecError,
        "cannot read app file",
    ),
    ApiCase(
        "spec-without-roles",
        lambda r, d: AppDef.parse({"name": "a", "roles": []}),
        errors.SpecError,
        "roles",
    ),
    # specs built in Python: SpecError, never pydantic's raw error (which prints input values)
    ApiCase(
        "role-env-value-not-a-string",
        lambda r, d: Role(name="r", entrypoint="x", env={"API_KEY": [SECRET]}),
        errors.SpecError,
        "env.API_KEY",
    ),
    ApiCase(
        "appdef-nested-env-value",
        lambda r, d: AppDef(
            name="a", roles=[_role_data(env={"API_KEY": [[SECRET], {"k": SECRET}]})]
        ),
        errors.SpecError,
        "roles[0].env.API_KEY",
    ),
    ApiCase(
        "appdef-model-validate",
        lambda r, d: AppDef.model_validate({"name": "a", "roles": [_role_data(args=[[SECRET]])]}),
        errors.SpecError,
        "roles[0].args[0]",
    ),
    ApiCase(
        "appdef-model-validate-json",
        lambda r, d: AppDef.model_validate_json(
            json.dumps({"name": "a", "roles": [_role_data(env={"API_KEY": {"v": SECRET}})]})
        ),
        errors.SpecError,
        "roles[0].env.API_KEY",
    ),
    ApiCase(
        "resource-bad-quantity",
        lambda r, d: Resource(memory_mb="lots"),
        errors.SpecError,
        "memory_mb",
    ),
    ApiCase(
        "mount-bad-field",
        lambda r, d: BindMount(src_path=SECRET, dst_path=""),
        errors.SpecError,
        "dst_path",
    ),
    ApiCase(
        "role-bad-name-and-secret",
        lambda r, d: Role(name=f"bad {SECRET}", entrypoint="x", env={"TOKEN": 1}),
        errors.SpecError,
        "name: String should match pattern",
    ),
    # component files
    ApiCase(
        "component-file-missing",
        lambda r, d: load_component(f"{d}/missing.py:fn"),
        errors.ComponentError,
        "not found",
    ),
    ApiCase(
        "component-file-syntax-error",
        lambda r, d: load_component(f"{d}/syntax_error.py:fn"),
        errors.ComponentError,
        "syntax_error.py:1",
    ),
    ApiCase(
        "component-file-raises-on-import",
        lambda r, d: build_app(f"{d}/raises_on_import.py:fn", []),
        errors.ComponentError,
        "configured wrongly",
    ),
    ApiCase(
        "malformed-component",
        lambda r, d: build_app(f"{d}/components.py:unannotated", ["--name", "x"]),
        errors.ComponentError,
        "no type annotation",
    ),
    # config files
    ApiCase("config-bad-key", _config_with_bad_key, errors.ConfigError, "no_such_setting"),
    *LIMIT_CASES,
]


@pytest.fixture
def runner() -> Iterator[Runner]:
    with Runner() as made:
        yield made


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.timeout(60)  # no hang
@pytest.mark.parametrize("bad", CASES, ids=lambda c: c.id)
def test_bad_input_raises_the_right_error_with_a_hint(
    bad: ApiCase, runner: Runner, tmp_path: Path
) -> None:
    files = write_files(tmp_path / "files")
    clear_cache()
    with pytest.raises(bad.error) as info:
        bad.call(runner, files)
    err = info.value
    assert bad.fragment in str(err)
    assert "\n" not in str(err), str(err)
    assert err.hint and "\n" not in err.hint, f"no hint: {err!r}"
    assert err.exit_code == 2


@pytest.mark.parametrize("bad", CASES, ids=lambda c: c.id)
def test_no_error_shows_a_secret_value(bad: ApiCase, runner: Runner, tmp_path: Path) -> None:
    files = write_files(tmp_path / "files")
    clear_cache()
    with pytest.raises(errors.TorchrunCoreError) as info:
        bad.call(runner, files)
    # What --debug prints too: the traceback with its chained causes.
    shown = "".join(traceback.format_exception(info.value)) + repr(info.value.context)
    shown += repr(getattr(info.value, "errors", None))
    assert SECRET not in shown


def test_spec_error_is_also_a_value_error() -> None:
    # Code that caught ValueError (pydantic's ValidationError is one) keeps working.
    with pytest.raises(ValueError, match="num_replicas"):
        Role(name="r", entrypoint="x", num_replicas=0)
