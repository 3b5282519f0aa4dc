"""Old import paths of modules that moved into packages; they still import.

Modules were regrouped into one package per concern (``runner/``,
``runstore/``, ``config/``, ``component_loading/``, ``registry/``, and one
package per builtin scheduler). Code written against an old path, such as
``torchrun_core.schedulers.local_scheduler`` or ``torchrun_core.runner_control``,
keeps working: the finder that ``torchrun_core/__init__`` puts last on
``sys.meta_path`` calls :func:`spec_for` for a name no real module has, which
answers an old name with the module at its new path (the same module object,
not a copy) and warns with a ``DeprecationWarning`` naming the new path. This
module is imported only then, so the table costs nothing to other imports.
"""

from __future__ import annotations

import importlib
import warnings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import ModuleType

_ROOT = "torchrun_core."

#: old name -> new name, both under torchrun_core
MOVED: dict[str, str] = {
    "component_ast": "component_loading.syntax",
    "component_discovery": "component_loading.discovery",
    "component_loader": "component_loading.loader",
    "component_params": "component_loading.params",
    "component_parser": "component_loading.parser",
    "component_signature": "component_loading.signature",
    "component_source": "component_loading.source",
    "config_apply": "config.apply",
    "config_env": "config.env",
    "config_files": "config.files",
    "config_lines": "config.lines",
    "config_model": "config.model",
    "config_settings": "config.settings",
    "config_view": "config.view",
    "launch_mark": "runstore.launch_mark",
    "outage": "runner.outage",
    "plugin_checks": "registry.checks",
    "plugins": "registry",
    "run_query": "runstore.query",
    "run_record": "runstore.record",
    "runner_base": "runner.base",
    "runner_bulk": "runner.bulk",
    "runner_calls": "runner.calls",
    "runner_control": "runner.control",
    "runner_futures": "runner.futures",
    "runner_queries": "runner.queries",
    "runner_rerun": "runner.rerun",
    "runner_tracking": "runner.tracking",
    "runstore_rows": "runstore.rows",
    "runstore_schema": "runstore.schema",
    "scheduler_pool": "runner.scheduler_pool",
    "schedulers.docker_appdir": "schedulers.docker.appdir",
    "schedulers.docker_client": "schedulers.shared.docker_daemon",
    "schedulers.docker_ignore": "schedulers.shared.dockerignore",
    "schedulers.docker_launch": "schedulers.docker.launch",
    "schedulers.docker_logs": "schedulers.docker.logs",
    "schedulers.docker_options": "schedulers.docker.options",
    "schedulers.docker_plan": "schedulers.docker.plan",
    "schedulers.docker_plan_text": "schedulers.docker.plan_text",
    "schedulers.docker_scheduler": "schedulers.docker.scheduler",
    "schedulers.docker_state": "schedulers.docker.state",
    "schedulers.docker_supervisor": "schedulers.docker.supervisor",
    "schedulers.docker_watch": "schedulers.docker.watch",
    "schedulers.docker_workspace": "schedulers.docker.workspace",
    "schedulers.kubernetes_capability": "schedulers.kubernetes.capability",
    "schedulers.kubernetes_client": "schedulers.kubernetes.client",
    "schedulers.kubernetes_errors": "schedulers.kubernetes.errors",
    "schedulers.kubernetes_follow": "schedulers.kubernetes.follow",
    "schedulers.kubernetes_jobset": "schedulers.kubernetes.jobset",
    "schedulers.kubernetes_logs": "schedulers.kubernetes.logs",
    "schedulers.kubernetes_manifests": "schedulers.kubernetes.manifests",
    "schedulers.kubernetes_options": "schedulers.kubernetes.options",
    "schedulers.kubernetes_scheduler": "schedulers.kubernetes.scheduler",
    "schedulers.kubernetes_state": "schedulers.kubernetes.state",
    "schedulers.kubernetes_submit": "schedulers.kubernetes.submit",
    "schedulers.kubernetes_text": "schedulers.kubernetes.text",
    "schedulers.kubernetes_watch": "schedulers.kubernetes.watch",
    "schedulers.local_control": "schedulers.local.control",
    "schedulers.local_descendants": "schedulers.local.descendants",
    "schedulers.local_launch": "schedulers.local.launch",
    "schedulers.local_log_reader": "schedulers.local.log_reader",
    "schedulers.local_logs": "schedulers.local.logs",
    "schedulers.local_plan": "schedulers.local.plan",
    "schedulers.local_records": "schedulers.local.records",
    "schedulers.local_replica": "schedulers.local.replica",
    "schedulers.local_scheduler": "schedulers.local.scheduler",
    "schedulers.local_spawner": "schedulers.local.spawner",
    "schedulers.local_state": "schedulers.local.state",
    "schedulers.local_stopper": "schedulers.local.stopper",
    "schedulers.local_supervisor": "schedulers.local.supervisor",
    "schedulers.local_supervisor_io": "schedulers.local.supervisor_io",
    "schedulers.slurm_app_status": "schedulers.slurm.app_status",
    "schedulers.slurm_control": "schedulers.slurm.control",
    "schedulers.slurm_jobdir": "schedulers.slurm.jobdir",
    "schedulers.slurm_local_transport": "schedulers.slurm.local_transport",
    "schedulers.slurm_logs": "schedulers.slurm.logs",
    "schedulers.slurm_options": "schedulers.slurm.options",
    "schedulers.slurm_record": "schedulers.slurm.record",
    "schedulers.slurm_scheduler": "schedulers.slurm.scheduler",
    "schedulers.slurm_script": "schedulers.slurm.script",
    "schedulers.slurm_status": "schedulers.slurm.status",
    "schedulers.slurm_workspace": "schedulers.slurm.workspace",
    "schedulers.ssh_target": "schedulers.slurm.ssh_target",
    "schedulers.ssh_transport": "schedulers.slurm.ssh_transport",
    "state_sync": "runner.state_sync",
    "tracker_env": "tracking.env",
    "workspace": "runner.workspace",
    "write_ahead": "runner.write_ahead",
}


class _AliasLoader:
    """Loads an old name by importing its new module and returning that object."""

    def __init__(self, new_name: str) -> None:
        self.new_name = new_name
        self.new_spec: ModuleSpec | None = None

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        warnings.warn(
            f"{spec.name} moved to {self.new_name}; import it from there",
            DeprecationWarning,
            stacklevel=2,
        )
        module = importlib.import_module(self.new_name)
        self.new_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The module is already executed. The import system has set its
        # __spec__ to the old name's: give it back its own.
        module.__spec__ = self.new_spec


def spec_for(name: str) -> ModuleSpec | None:
    """The spec that imports old module ``name`` as its new module; None for other names."""
    new_name = MOVED.get(name[len(_ROOT) :]) if name.startswith(_ROOT) else None
    if new_name is None:
        return None
    from importlib.machinery import ModuleSpec

    return ModuleSpec(name, _AliasLoader(_ROOT + new_name))  # type: ignore[arg-type]
