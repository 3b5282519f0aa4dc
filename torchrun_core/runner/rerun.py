"""The Runner's re-run: submit a recorded run again, as its child.

The run store keeps every run's AppDef (as submitted, with the tracker env
the Runner injected) and its scheduler options. ``rerun`` takes them back,
removes the injected tracker env (the new dry run injects it afresh, with the
new run's handle and the old run as parent), applies the caller's overrides
and submits the result through the ordinary dry run and schedule, so the new
run is recorded as a child of the old one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from torchrun_core.errors import InvalidInputError
from torchrun_core.runner.calls import ApiCall, app_not_found
from torchrun_core.runner.submission import RunnerSubmission
from torchrun_core.specs.handle import AppHandle, parse_handle
from torchrun_core.specs.mounts import BindMount
from torchrun_core.tracking import env as tracker_env
from torchrun_core.workspace_builder import BASES_METADATA

if TYPE_CHECKING:
    from pydantic import BaseModel
    from typing_extensions import Unpack

    from torchrun_core.specs.app import AppDef, Role
    from torchrun_core.specs.dryrun import AppDryRunInfo

# An override for this "role" applies to every role; role names never start with "*".
EVERY_ROLE = "*"
# Resource field names other tools use (TorchX's memMB), accepted in overrides.
RESOURCE_ALIASES = {"memMB": "memory_mb", "memory": "memory_mb", "mem": "memory_mb"}
RESOURCE_HINT = "Resource fields: cpu, memory_mb (or memMB, memory), gpu, devices, capabilities"

ResourceOverride = Mapping[str, Any]


class RerunOverrides(TypedDict, total=False):
    """What :meth:`RunnerRerun.rerun` may change; every key is optional.

    Keys:
        scheduler: where to submit it (default: where the old run ran).
        cfg: scheduler options merged over the recorded ones (on another
            scheduler, the recorded options are dropped: they are not its).
        replicas: role name -> number of replicas (``"*"``: every role).
        resources: role name -> a Resource, or Resource fields merged over
            the role's (``{"trainer": {"memMB": 4096}}``; ``"*"``: every role).
        env: env vars set in every role (also the values of secret env vars,
            which the store keeps only as ``***``).
        workspace: a directory to build into the roles' images afresh; without
            it a workspace run reruns the very image it ran (its digest).
    """

    scheduler: str | None
    cfg: Mapping[str, Any] | None
    replicas: Mapping[str, int] | None
    resources: Mapping[str, ResourceOverride | BaseModel] | None
    env: Mapping[str, str] | None
    workspace: str | None


_OVERRIDE_KEYS = frozenset(RerunOverrides.__annotations__)


class RunnerRerun(RunnerSubmission):
    """``rerun``: the recorded AppDef and cfg, with overrides, under a new handle."""

    def rerun(self, handle: str | AppHandle, /, **overrides: Unpack[RerunOverrides]) -> AppHandle:
        """Submit run ``handle`` again, as a child of it; returns the new handle.

        ``overrides`` are ``scheduler``, ``cfg``, ``replicas``, ``resources``
        and ``env``: see :class:`RerunOverrides`.

        Raises:
            AppNotFoundError: the run store does not know ``handle``.
            InvalidInputError: the run has no recorded spec, an override names
                an unknown role, or a secret value is missing.
            SpecError: an override makes the spec invalid (a bad resource field).
            TypeError: an unknown override.
        """
        with self._api("rerun", overrides.get("scheduler")) as call:
            info = self._rerun_dryrun(call, handle, overrides)
            return self._schedule(call, info)

    def dryrun_rerun(
        self, handle: str | AppHandle, /, **overrides: Unpack[RerunOverrides]
    ) -> AppDryRunInfo[Any]:
        """What :meth:`rerun` would submit, for ``schedule``; takes the same arguments."""
        with self._api("dryrun_rerun", overrides.get("scheduler")) as call:
            return self._rerun_dryrun(call, handle, overrides)

    def _rerun_dryrun(
        self, call: ApiCall, handle: str | AppHandle, overrides: RerunOverrides
    ) -> AppDryRunInfo[Any]:
        unknown = sorted(overrides.keys() - _OVERRIDE_KEYS)
        if unknown:  # **overrides accepts any keyword: refuse a typo as a signature would
            raise TypeError(
                f"rerun() got unexpected keyword argument(s) {', '.join(unknown)}; "
                f"it takes {', '.join(sorted(_OVERRIDE_KEYS))}"
            )
        parsed = call.target(parse_handle(handle))
        record = self.store.get(str(parsed))
        if record is None:
            raise app_not_found(parsed, "the run store has no such run to re-run")
        app = record.app
        if app is None:
            raise InvalidInputError(
                f"run {parsed} has no recorded app spec, so it cannot be re-run",
                hint="only runs submitted through torchrun_core (run, Runner.run) can be",
                handle=str(parsed),
            )
        target = overrides.get("scheduler") or record.scheduler
        # The recorded options are the old scheduler's: another scheduler would reject them.
        new_cfg = {
            **(record.cfg if target == record.scheduler else {}),
            **(overrides.get("cfg") or {}),
        }
        _check_no_redacted(parsed, "scheduler option", new_cfg, "--cfg KEY=VALUE")
        app = apply_overrides(
            without_tracker_env(app),
            replicas=overrides.get("replicas"),
            resources=overrides.get("resources"),
            env=overrides.get("env"),
        )
        _check_no_redacted(parsed, "env var", _secret_env(app), "--env KEY=VALUE")
        workspace = overrides.get("workspace")
        if workspace:
            app = with_base_images(app)  # the new workspace goes on the original images
        return self._dryrun(app, target, new_cfg, str(parsed), workspace)


def injected_keys(env: Mapping[str, str]) -> set[str]:
    """The keys of ``env`` that :func:`tracker_env.tracker_env` adds (for the trackers it lists)."""
    trackers = [n for n in env.get(tracker_env.TRACKERS_ENV, "").split(",") if n]
    keys = {tracker_env.APP_HANDLE_ENV, tracker_env.PARENT_RUN_ID_ENV, tracker_env.TRACKERS_ENV}
    keys.update(tracker_env.tracker_config_env(name) for name in trackers)
    return keys & env.keys()


def without_tracker_env(app: AppDef) -> AppDef:
    """A copy of ``app`` without the tracker env the Runner injected into its roles.

    Also without the bind mount of the ``file`` tracker's root that the
    Runner added for a scheduler asking for one (docker): the new dry run
    places the tracker afresh, maybe on another scheduler.
    """
    roles = []
    for role in app.roles:
        drop = injected_keys(role.env)
        env = {k: v for k, v in role.env.items() if k not in drop}
        root = role.env.get(tracker_env.tracker_config_env(tracker_env.DEFAULT_TRACKER))
        mounts = [
            m
            for m in role.mounts
            if not (isinstance(m, BindMount) and m.src_path == m.dst_path == root)
        ]
        # Removing keys keeps the spec valid: no need to re-validate (see inject_env).
        roles.append(role.model_copy(update={"env": env, "mounts": mounts}))
    return app.model_copy(update={"roles": roles})


def apply_overrides(
    app: AppDef,
    *,
    replicas: Mapping[str, int] | None = None,
    resources: Mapping[str, ResourceOverride | BaseModel] | None = None,
    env: Mapping[str, str] | None = None,
) -> AppDef:
    """A validated copy of ``app`` with new replica counts, resources and env.

    A role's ``min_replicas`` is lowered to its new ``num_replicas`` when above it.

    Raises:
        InvalidInputError: an override names a role the app does not have.
        SpecError: the result is not a valid spec (a bad count or resource field).
    """
    replicas, resources = replicas or {}, resources or {}
    _check_roles(app, replicas, "replicas")
    _check_roles(app, resources, "resources")
    data = app.model_dump()
    data["roles"] = [
        _role_data(role, _pick(replicas, role.name), _pick(resources, role.name), env or {})
        for role in app.roles
    ]
    from pydantic import ValidationError

    from torchrun_core.specs.app import AppDef, spec_error

    try:
        return AppDef.model_validate(data)
    except ValidationError as err:
        raise spec_error(err, f"rerun of app {app.name!r}", RESOURCE_HINT) from None


def _pick(overrides: Mapping[str, Any], role: str) -> Any:
    return overrides.get(role, overrides.get(EVERY_ROLE))


def _role_data(role: Role, replicas: int | None, resource: Any, env: Mapping[str, str]) -> Any:
    data = role.model_dump()
    if replicas is not None:
        data["num_replicas"] = replicas
        if role.min_replicas is not None and isinstance(replicas, int):
            data["min_replicas"] = min(role.min_replicas, replicas)
    if resource is not None:
        if hasattr(resource, "model_dump"):
            data["resource"] = resource.model_dump()
        else:
            fields = {RESOURCE_ALIASES.get(str(k), str(k)): v for k, v in resource.items()}
            data["resource"] = {**data["resource"], **fields}
    data["env"] = {**data["env"], **env}
    return data


def _check_roles(app: AppDef, names: Iterable[str], what: str) -> None:
    unknown = [n for n in names if n != EVERY_ROLE and n not in app.role_names]
    if unknown:
        raise InvalidInputError(
            f"cannot override {what}: app {app.name!r} has no role {unknown[0]!r}; "
            f"its roles: {', '.join(app.role_names)}",
            hint=f"name one of its roles, or {EVERY_ROLE!r} for every role",
            role=unknown[0],
        )


def _secret_env(app: AppDef) -> dict[str, str]:
    from torchrun_core.specs.dryrun import is_secret_key

    return {k: v for role in app.roles for k, v in role.env.items() if is_secret_key(k)}


def _check_no_redacted(
    handle: AppHandle, what: str, values: Mapping[str, Any], option: str
) -> None:
    """Refuse to submit ``***``: the store masks secret values, so the caller must give them."""
    from torchrun_core.specs.dryrun import REDACTED, is_secret_key

    masked = sorted(k for k, v in values.items() if is_secret_key(k) and v == REDACTED)
    if masked:
        raise InvalidInputError(
            f"run {handle} had secret {what}(s) {', '.join(masked)}, which the run store "
            f"keeps only as {REDACTED!r}",
            hint=f"give their values again: {option} (Python: rerun(..., "
            f"{'cfg' if option.startswith('--cfg') else 'env'}={{...}}))",
            handle=str(handle),
        )


def with_base_images(app: AppDef) -> AppDef:
    """``app`` with the role images its workspace builder started from (BASES_METADATA).

    An app without the record (never built from a workspace) is returned as it is.
    """
    bases = json.loads(app.metadata.get(BASES_METADATA) or "{}")
    if not bases:
        return app
    roles = [r.model_dump() | {"image": bases.get(r.name, r.image)} for r in app.roles]
    metadata = {k: v for k, v in app.metadata.items() if k != BASES_METADATA}
    return type(app).parse(
        {**app.model_dump(), "roles": roles, "metadata": metadata}, source=f"app {app.name!r}"
    )
