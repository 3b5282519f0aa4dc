"""``import torchrun_core``, plugin discovery and ``--help`` stay light.

Each check runs in a fresh interpreter and reads ``sys.modules``: importing a
heavy SDK (or pydantic, for the bare import) would show up there.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import torchrun_core

# Never imported by discovery or --help: SDKs of particular schedulers, and rich.
HEAVY = ("rich", "docker", "kubernetes", "paramiko", "torch")
# Not imported by the bare `import torchrun_core` either.
NOT_ON_IMPORT = ("pydantic", "pluggy", "sqlite3", *HEAVY)


def loaded_after(code: str) -> set[str]:
    """Top-level module names in ``sys.modules`` after running ``code`` in a fresh python."""
    script = textwrap.dedent(code) + textwrap.dedent(
        """
        import json as _json, sys as _sys
        _sys.stdout.write("\\n" + _json.dumps(sorted({m.split(".")[0] for m in _sys.modules})))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    names: list[str] = json.loads(proc.stdout.splitlines()[-1])
    return set(names)


def test_import_torchrun_core_loads_nothing_heavy() -> None:
    loaded = loaded_after("import torchrun_core")
    assert "torchrun_core" in loaded
    assert loaded.isdisjoint(NOT_ON_IMPORT), sorted(loaded & set(NOT_ON_IMPORT))


def test_plugin_discovery_loads_no_sdk() -> None:
    loaded = loaded_after(
        """
        from torchrun_core.registry import get_registry
        registry = get_registry()
        for kind in ("schedulers", "components", "named_resources", "trackers"):
            registry.names(kind)
        assert "local" in registry.names("schedulers"), registry.load_errors
        assert "utils.echo" in registry.names("components")
        """
    )
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["plugins", "--help"]])
def test_cli_help_loads_no_sdk(argv: list[str]) -> None:
    loaded = loaded_after(
        f"""
        from torchrun_core.cli.main import main
        assert main({argv!r}) == 0
        """
    )
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_facade_all_is_explicit_sorted_and_unique() -> None:
    exported = torchrun_core.__all__
    assert isinstance(exported, list) and exported
    assert exported == sorted(exported), "keep __all__ sorted"
    assert len(set(exported)) == len(exported), "__all__ has duplicates"
    # Every lazily exported name is in __all__, and __all__ holds nothing else.
    lazy = set(torchrun_core._EXPORTS)
    assert set(exported) == lazy | {"__version__"}
    assert sorted(dir(torchrun_core)) == sorted(exported)


def test_every_facade_name_resolves() -> None:
    for name in torchrun_core.__all__:
        assert getattr(torchrun_core, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        _ = torchrun_core.NoSuchThing


def test_facade_names_are_the_real_objects() -> None:
    from torchrun_core.hookspecs import hookimpl
    from torchrun_core.specs.app import AppDef

    assert torchrun_core.AppDef is AppDef
    assert torchrun_core.hookimpl is hookimpl
