"""What is wrong with a plugin that loaded but provides less than its author meant.

pluggy accepts a ``@hookimpl`` whose name matches no hookspec (a typo such as
``torchrun_core_scheduler``), and ignores a function named like a hook that
lacks ``@hookimpl``: either way the plugin silently provides nothing. These
checks name such functions, so that ``plugins`` and a :class:`PluginWarning`
can say so. They also explain why a scheduler is missing when a plugin that
might provide it failed to load or is blocked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torchrun_core import hookspecs

if TYPE_CHECKING:
    import pluggy

HOOK_PREFIX = f"{hookspecs.PROJECT}_"
_IMPL_MARK = f"{hookspecs.PROJECT}_impl"  # the attribute pluggy's @hookimpl sets


class PluginWarning(UserWarning):
    """A plugin loaded, but part of it will never be used (say, a misspelled hook)."""


def hook_names() -> list[str]:
    """Every hook a plugin can implement."""
    return sorted(n for n in vars(hookspecs) if n.startswith(HOOK_PREFIX) and n != _IMPL_MARK)


def hook_problems(plugin: object) -> list[str]:
    """One line per ``torchrun_core_*`` function of ``plugin`` that pluggy will never call."""
    known = hook_names()
    problems = []
    for attr in sorted(dir(plugin)):
        if not attr.startswith(HOOK_PREFIX) or attr == _IMPL_MARK:
            continue
        value = getattr(plugin, attr, None)
        if not callable(value):
            continue
        if attr not in known:
            import difflib  # only for a broken plugin: discovery stays cheap

            close = difflib.get_close_matches(attr, known, n=1)
            guess = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"unknown hook {attr}{guess}: it is never called")
        elif getattr(value, _IMPL_MARK, None) is None:
            problems.append(f"{attr} lacks @torchrun_core.hookimpl: it is never called")
    return problems


def registered_hook_problems(manager: pluggy.PluginManager) -> dict[str, list[str]]:
    """:func:`hook_problems` of every registered plugin that has any, by plugin name."""
    found = {}
    for name, plugin in manager.list_name_plugin():
        problems = hook_problems(plugin) if plugin is not None else []
        if problems:
            found[name] = problems
    return found


def why_missing(
    kind: str, name: str, load_errors: dict[str, str], blocked: list[str], block_env: str
) -> str:
    """Why no plugin provides ``name``, when a failed or blocked plugin may be the reason.

    The entry-point name often is the name it provides (plugin ``acme``,
    scheduler ``acme``): such a plugin is named as the cause; otherwise every
    failed or blocked plugin is listed as a possible one. "" when there is none.
    """
    what = kind[:-1].replace("_", " ")
    if name in blocked:
        return f"plugin {name!r} is blocked by {block_env}"
    if name in load_errors:
        return f"plugin {name!r} failed to load: {load_errors[name]}"
    maybe = [f"{p!r} failed to load ({why})" for p, why in sorted(load_errors.items())]
    maybe += [f"{p!r} is blocked by {block_env}" for p in blocked]
    if not maybe:
        return ""
    return f"a plugin that may provide this {what} is not loaded: {'; '.join(maybe)}"


__all__ = [
    "PluginWarning",
    "hook_names",
    "hook_problems",
    "registered_hook_problems",
    "why_missing",
]
