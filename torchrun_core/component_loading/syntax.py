"""Find things in a Python source file's AST: top-level functions and their docstrings.

Only :mod:`ast` is imported here, so that listing components (``builtins``)
stays cheap; evaluating annotations lives in
:mod:`torchrun_core.component_loading.signature`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from torchrun_core.errors import ComponentError


def parse_source(path: Path, component: str) -> ast.Module:
    """The AST of ``path``.

    Raises:
        ComponentError: the file cannot be read or has a syntax error (``file:line``).
    """
    try:
        source = path.read_bytes()
    except OSError as err:
        msg = f"cannot read component file {path}: {err}"
        raise ComponentError(msg, hint=f"cwd is {Path.cwd()}", component=component) from None
    try:
        return ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError) as err:
        line = getattr(err, "lineno", None)
        msg = getattr(err, "msg", str(err))
        raise ComponentError(
            f"{path}:{line}: syntax error: {msg}", hint=syntax_hint(path), component=component
        ) from None


def syntax_hint(path: Path) -> str:
    """The hint of a component file that is not valid Python."""
    return f"fix the file; Python shows the error with: python -m py_compile {path}"


def top_level_function(module: ast.Module, name: str) -> ast.FunctionDef | None:
    """The plain (undecorated, sync) function ``name`` defines last at top level, else None.

    None also when something else binds the name last (an assignment, an
    import, a decorator): only running the module can tell what it is then.
    """
    found: ast.FunctionDef | None = None
    for node in module.body:
        if name in bound_names(node):
            found = node if isinstance(node, ast.FunctionDef) else None
    if found is not None and found.decorator_list:
        return None
    return found


def defines_name(module: ast.Module, name: str) -> bool:
    """Whether the module may bind ``name`` at top level (star imports count as yes)."""
    return any(name in bound_names(node) or _is_dynamic(node) for node in module.body)


def public_functions(module: ast.Module) -> list[str]:
    """Names of the top-level ``def`` functions not starting with ``_``."""
    return [
        n.name
        for n in module.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and not n.name.startswith("_")
    ]


def bound_names(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    # Compound statements (if/try/with/for...): everything bound anywhere inside.
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            names.add(sub.id)
        elif sub is not node and isinstance(sub, ast.stmt):
            if isinstance(sub, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef):
                names |= bound_names(sub)
            elif isinstance(sub, ast.AsyncFunctionDef):
                names.add(sub.name)
    return names


def _is_dynamic(node: ast.stmt) -> bool:
    """``from m import *`` or a module ``__getattr__``: any name may exist."""
    if isinstance(node, ast.ImportFrom):
        return any(a.name == "*" for a in node.names)
    return isinstance(node, ast.FunctionDef) and node.name == "__getattr__"


def docstring_summary(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """The first line of a function's docstring, or ``""``."""
    doc = (ast.get_docstring(node, clean=True) or "").strip()
    return doc.splitlines()[0] if doc else ""


__all__ = [
    "bound_names",
    "defines_name",
    "docstring_summary",
    "parse_source",
    "public_functions",
    "top_level_function",
]
