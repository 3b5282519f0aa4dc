"""Builtin components, installed as ``torchrun_core.components``.

This module is the plugin registering them; it stays light, naming each
component lazily as ``"module:function"``.
"""

from __future__ import annotations

from torchrun_core.hookspecs import hookimpl

_BUILTINS = {
    "utils.echo": "torchrun_core.components.utils:echo",
    "utils.sh": "torchrun_core.components.utils:sh",
    "utils.python": "torchrun_core.components.utils:python",
    "utils.touch": "torchrun_core.components.utils:touch",
    "utils.copy": "torchrun_core.components.utils:copy",
    "utils.booth": "torchrun_core.components.utils:booth",
    "dist.ddp": "torchrun_core.components.dist:ddp",
    "dist.spmd": "torchrun_core.components.dist:spmd",
}


@hookimpl
def torchrun_core_components() -> dict[str, str]:
    return dict(_BUILTINS)
