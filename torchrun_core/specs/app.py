"""AppDef and Role: what to run, independent of where."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator
from pydantic.config import JsonDict

from torchrun_core.errors import SpecError
from torchrun_core.limits import MAX_REPLICAS_PER_APP, MAX_REPLICAS_PER_ROLE
from torchrun_core.specs.mounts import Mount
from torchrun_core.specs.named_resources import resolve_named_resource
from torchrun_core.specs.resource import Resource
from torchrun_core.specs.retry import RetryPolicy
from torchrun_core.specs.spec_base import (
    APP_FILE_HINT,
    NAME_PATTERN,
    SpecModel,
    field_path,
    spec_error,
)

# Re-exported: callers import these from here.
__all__ = ["APP_FILE_HINT", "NAME_PATTERN", "AppDef", "Role", "field_path", "spec_error"]

_ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _resource_or_name_schema(schema: JsonDict) -> None:
    """JSON Schema of ``Role.resource``: a Resource, or a plugin's named resource."""
    resource = dict(schema)
    schema.clear()
    schema["anyOf"] = [
        resource,
        {"type": "string", "description": "a named resource from a plugin, e.g. 'gpu.small'"},
    ]


class Role(SpecModel):
    """One kind of process in an app, run as ``num_replicas`` identical replicas."""

    name: str = Field(min_length=1, max_length=63, pattern=NAME_PATTERN)
    image: str = Field(
        default="", description="container image, or a directory for the local scheduler"
    )
    entrypoint: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    num_replicas: int = Field(default=1, ge=1, le=MAX_REPLICAS_PER_ROLE)
    min_replicas: int | None = Field(default=None, ge=1, le=MAX_REPLICAS_PER_ROLE)
    max_retries: int = Field(default=0, ge=0)
    retry_policy: RetryPolicy = RetryPolicy.APPLICATION
    resource: Resource = Field(default_factory=Resource, json_schema_extra=_resource_or_name_schema)
    port_map: dict[str, int] = Field(default_factory=dict)
    mounts: list[Mount] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("entrypoint")
    @classmethod
    def _entrypoint_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("entrypoint must not be blank")
        return value

    @field_validator("env")
    @classmethod
    def _env_keys_valid(cls, env: dict[str, str]) -> dict[str, str]:
        bad = [k for k in env if not _ENV_KEY_RE.match(k)]
        if bad:
            raise ValueError(
                f"invalid env key(s) {', '.join(map(repr, bad))}: "
                "use letters, digits and '_', not starting with a digit"
            )
        return env

    @field_validator("port_map")
    @classmethod
    def _ports_in_range(cls, ports: dict[str, int]) -> dict[str, int]:
        bad = {k: v for k, v in ports.items() if not 0 < v < 65536}
        if bad:
            raise ValueError(f"ports out of range 1-65535: {bad}")
        return ports

    @field_validator("resource", mode="before")
    @classmethod
    def _resolve_named_resource(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):  # a name: see torchrun_core.specs.named_resources
            return resolve_named_resource(value, info.context)
        return value

    # A field validator (not a model validator) so the error names min_replicas;
    # num_replicas is declared first, so it is in info.data when it was valid.
    @field_validator("min_replicas")
    @classmethod
    def _min_not_above_num(cls, value: int | None, info: ValidationInfo) -> int | None:
        num = info.data.get("num_replicas")
        if value is not None and num is not None and value > num:
            raise ValueError(f"min_replicas ({value}) must not exceed num_replicas ({num})")
        return value

    # -- copies -------------------------------------------------------------
    def with_env(self, env: Mapping[str, str] | None = None, **more: str) -> Role:
        """A copy whose env has ``env`` and ``more`` merged over the current one."""
        return self._replace(env={**self.env, **(env or {}), **more})

    def with_args(self, *args: str, append: bool = False) -> Role:
        """A copy with ``args`` replacing (or, with ``append``, following) the current args."""
        return self._replace(args=[*self.args, *args] if append else list(args))

    def with_replicas(self, num_replicas: int, min_replicas: int | None = None) -> Role:
        return self._replace(num_replicas=num_replicas, min_replicas=min_replicas)

    def with_resource(self, resource: Resource | str | None = None, **fields: Any) -> Role:
        """A copy with a new resource: a Resource, a named resource, or fields to change.

        ``fields`` apply over ``resource`` when both are given, else over the current one.
        """
        base = self.resource if resource is None else self._replace(resource=resource).resource
        return self._replace(resource={**base.model_dump(), **fields})

    def with_mounts(self, *mounts: Mount | Mapping[str, Any], append: bool = True) -> Role:
        new = [m if isinstance(m, Mapping) else m.model_dump() for m in mounts]
        old = [m.model_dump() for m in self.mounts] if append else []
        return self._replace(mounts=old + new)


class AppDef(SpecModel):
    """A named set of roles that together make one job."""

    name: str = Field(min_length=1, max_length=63, pattern=NAME_PATTERN)
    roles: list[Role] = Field(min_length=1)
    metadata: dict[str, str] = Field(default_factory=dict)

    # A field validator (not a model validator) so the error is located at ``roles``.
    @field_validator("roles")
    @classmethod
    def _unique_role_names(cls, roles: list[Role]) -> list[Role]:
        seen: dict[str, int] = {}
        for i, role in enumerate(roles):
            if role.name in seen:
                raise ValueError(
                    f"duplicate role name {role.name!r} (roles[{seen[role.name]}] and roles[{i}])"
                )
            seen[role.name] = i
        total = sum(role.num_replicas for role in roles)
        if total > MAX_REPLICAS_PER_APP:
            # Bounded so that a typo cannot make a dry run build millions of replicas.
            raise ValueError(f"{total} replicas in all; an app has at most {MAX_REPLICAS_PER_APP}")
        return roles

    def role(self, name: str) -> Role:
        """The role called ``name``. Raises KeyError naming the known roles."""
        for role in self.roles:
            if role.name == name:
                return role
        raise KeyError(f"app {self.name!r} has no role {name!r}; roles: {self.role_names}")

    @property
    def role_names(self) -> list[str]:
        return [r.name for r in self.roles]

    # -- copies -------------------------------------------------------------
    def with_role(self, role: Role) -> AppDef:
        """A copy where ``role`` replaces the role of the same name, or is added."""
        roles = [role if r.name == role.name else r for r in self.roles]
        if role.name not in self.role_names:
            roles.append(role)
        return self._replace(roles=[r.model_dump() for r in roles])

    def map_roles(self, fn: Any, roles: Iterable[str] | None = None) -> AppDef:
        """A copy with ``fn(role)`` applied to the named roles (all by default).

        ``roles`` may be one role name; a str is not taken as an iterable of names.
        """
        if isinstance(roles, str):
            roles = [roles]
        wanted = set(self.role_names if roles is None else roles)
        for name in wanted - set(self.role_names):
            self.role(name)  # raises KeyError naming the roles
        new = [fn(r) if r.name in wanted else r for r in self.roles]
        return self._replace(roles=[r.model_dump() for r in new])

    def with_env(self, env: Mapping[str, str], roles: Iterable[str] | None = None) -> AppDef:
        return self.map_roles(lambda r: r.with_env(env), roles)

    def with_args(self, *args: str, roles: Iterable[str] | None = None) -> AppDef:
        return self.map_roles(lambda r: r.with_args(*args), roles)

    def with_replicas(self, num_replicas: int, roles: Iterable[str] | None = None) -> AppDef:
        return self.map_roles(lambda r: r.with_replicas(num_replicas), roles)

    def with_resource(self, resource: Resource | str, roles: Iterable[str] | None = None) -> AppDef:
        return self.map_roles(lambda r: r.with_resource(resource), roles)

    def with_mounts(self, *mounts: Mount, roles: Iterable[str] | None = None) -> AppDef:
        return self.map_roles(lambda r: r.with_mounts(*mounts), roles)

    # -- files --------------------------------------------------------------
    @classmethod
    def parse(cls, data: Any, *, source: str = "app spec") -> AppDef:
        """Validate a mapping into an AppDef.

        Raises:
            SpecError: listing every bad field by path.
        """
        return cls.validate_as(data, source)

    @classmethod
    def from_file(cls, path: str | Path) -> AppDef:
        """Read an AppDef from a ``.yaml``/``.yml`` or ``.json`` file.

        A top-level ``$schema`` key (how JSON files name their schema for
        editors) is ignored.

        Raises:
            SpecError: for unreadable or invalid content, naming the file.
        """
        path = Path(path).expanduser()
        data = _read_app_file(path)
        if isinstance(data, dict):
            data.pop("$schema", None)
        elif data is None:
            raise SpecError(f"app file {str(path)!r} is empty", hint=APP_FILE_HINT)
        elif not isinstance(data, AppDef):
            raise SpecError(
                f"{path}: expected a mapping with name and roles, got {type(data).__name__}",
                hint=APP_FILE_HINT,
            )
        return cls.parse(data, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible data, without defaulted fields."""
        return self.model_dump(mode="json", exclude_defaults=True)

    def to_file(self, path: str | Path) -> Path:
        """Write as YAML, or JSON when the suffix is ``.json``; returns the path."""
        path = Path(path).expanduser()
        if path.suffix.lower() == ".json":
            text = json.dumps(self.to_dict(), indent=2) + "\n"
        else:
            import yaml

            text = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
        path.write_text(text, encoding="utf-8")
        return path

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The JSON Schema of app files, for editors and validators."""
        return cls.model_json_schema()


def _read_app_file(path: Path) -> Any:
    """The data in an app file: YAML, or JSON for ``.json``.

    Raises:
        SpecError: unreadable, or not valid YAML/JSON (naming the line).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise SpecError(
            f"cannot read app file {str(path)!r}: {err.strerror}", hint=f"cwd is {Path.cwd()}"
        ) from None
    except UnicodeDecodeError as err:
        raise SpecError(
            f"cannot read app file {str(path)!r}: not UTF-8 text: {err}", hint=APP_FILE_HINT
        ) from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except ValueError as err:
            raise SpecError(f"{path}: not valid JSON: {err}", hint=APP_FILE_HINT) from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        # Compiler style (file:line:column), on one line; yaml's own text spans several.
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        why = " ".join(str(x) for x in (err.context, err.problem) if x)
        raise SpecError(f"{where}: not valid YAML: {why}", hint=APP_FILE_HINT) from None
    except yaml.YAMLError as err:
        raise SpecError(
            f"{path}: not valid YAML: {err}".replace("\n", " "), hint=APP_FILE_HINT
        ) from None
