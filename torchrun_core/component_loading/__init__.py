"""Component loading: from ``name`` + CLI-style arguments to an AppDef.

Finds a component (a builtin or plugin name, ``path.py:fn`` or
``module:fn``), reads its signature without importing it where it can, turns
the arguments into typed parameters and calls it. Not to be confused with
``torchrun_core.components``, the builtin components themselves.

- ``loader``: :func:`build_app` and the component cache;
- ``discovery`` / ``source``: where a component is, and its source;
- ``syntax`` / ``signature``: the signature read from the source's AST;
- ``params`` / ``parser``: parameters and the argument parser.
"""

from __future__ import annotations

from torchrun_core._lazy import lazy_getattr

TYPE_CHECKING = False
if TYPE_CHECKING:
    from torchrun_core.component_loading.loader import build_app

__all__ = ["build_app"]

__getattr__ = lazy_getattr(__name__, {"build_app": "torchrun_core.component_loading.loader"})
