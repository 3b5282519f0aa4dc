"""The error hierarchy: exit codes, hints, context, and the docstring tree."""

from __future__ import annotations

import inspect
import pickle
import re

import pytest

from torchrun_core import errors
from torchrun_core.errors import (
    InvalidInputError,
    PluginError,
    SpecError,
    TorchrunCoreError,
)


def exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in (not imported into) torchrun_core.errors."""
    return {
        name: cls
        for name, cls in vars(errors).items()
        if inspect.isclass(cls)
        and issubclass(cls, BaseException)
        and cls.__module__ == errors.__name__
    }


def error_classes() -> dict[str, type[TorchrunCoreError]]:
    """The module's classes rooted at TorchrunCoreError (all of them, see below)."""
    return {
        name: cls for name, cls in exception_classes().items() if issubclass(cls, TorchrunCoreError)
    }


_TREE_LINE = re.compile(r"^(?P<indent>[ │├└─]*?)(?P<name>[A-Z]\w+)\s")


def docstring_tree() -> dict[str, str | None]:
    """``{class name: parent name}`` read from the tree drawn in the module docstring."""
    doc = errors.__doc__ or ""
    block = doc.split("::", 1)[1].split("\n\n", 2)[1]
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        match = _TREE_LINE.match(line)
        assert match, f"unparsable tree line {line!r}"
        depth = len(match["indent"])
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[match["name"]] = stack[-1][1] if stack else None
        stack.append((depth, match["name"]))
    return parents


def test_docstring_tree_lists_exactly_the_classes_in_the_module() -> None:
    tree = docstring_tree()
    assert set(tree) == set(exception_classes())


def test_docstring_tree_matches_the_real_inheritance() -> None:
    classes = exception_classes()
    for name, parent in docstring_tree().items():
        cls = classes[name]
        if parent is None:
            assert cls is TorchrunCoreError
        else:
            # A builtin may follow (SpecError is also a ValueError), never another of ours.
            first, *others = cls.__bases__
            assert first is classes[parent], f"{name} should derive from {parent}"
            assert all(b.__module__ == "builtins" for b in others), f"{name}: {others}"


def test_everything_is_rooted_at_torchrun_core_error() -> None:
    assert exception_classes().keys() == error_classes().keys()
    assert len(error_classes()) >= 17


def test_exit_codes_by_subtree() -> None:
    for name, cls in error_classes().items():
        expected = 2 if issubclass(cls, (InvalidInputError, PluginError)) else 1
        assert cls.exit_code == expected, name
        assert cls("m").exit_code == expected, name


def test_docstring_tree_states_the_exit_codes() -> None:
    doc = errors.__doc__ or ""
    assert re.search(r"InvalidInputError\s+exit 2", doc)
    assert re.search(r"PluginError\s+exit 2", doc)
    assert re.search(r"TorchrunCoreError\s+exit 1", doc)


@pytest.mark.parametrize("name", sorted(error_classes()))
def test_message_hint_and_context(name: str) -> None:
    cls = error_classes()[name]
    err = cls("something broke", hint="try this", handle="local://s/a", option="x")
    assert str(err) == "something broke"
    assert err.message == "something broke"
    assert err.hint == "try this"
    assert err.context == {"handle": "local://s/a", "option": "x"}
    assert err.handle == "local://s/a"  # type: ignore[attr-defined]
    assert err.option == "x"  # type: ignore[attr-defined]
    plain = cls("m")
    assert plain.hint is None
    assert plain.context == {}


@pytest.mark.parametrize("name", sorted(error_classes()))
def test_errors_survive_pickling(name: str) -> None:
    # Errors may cross a process boundary (worker pools, supervisors).
    cls = error_classes()[name]
    err = cls("boom", hint="h", scheduler="local")
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is cls
    assert (str(copy), copy.hint, copy.context) == ("boom", "h", {"scheduler": "local"})


def test_spec_error_lists_field_errors() -> None:
    err = SpecError("bad", errors=[("roles[0].name", "too long")], hint="h")
    assert err.errors == [("roles[0].name", "too long")]
    assert err.hint == "h"
    assert SpecError("bad").errors == []
    copy = pickle.loads(pickle.dumps(err))
    assert copy.errors == err.errors


def test_catching_by_branch() -> None:
    with pytest.raises(InvalidInputError):
        raise errors.AppNotFoundError("no app")
    with pytest.raises(errors.BackendError):
        raise errors.SchedulerUnavailableError("down")
    with pytest.raises(errors.AppError):
        raise errors.AppFailedError("failed")
    assert not issubclass(errors.WaitTimeoutError, errors.AppError)
