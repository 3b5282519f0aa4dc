"""The docs stay in sync with the code they describe.

``mkdocs build --strict`` (in the test command) catches broken links and
missing snippet files; these tests catch docs that are still valid Markdown
but no longer true: a plugin file the guide forgets, Python examples that do
not compile, a CLI subcommand or option the CLI reference does not mention.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PLUGIN_DIST = REPO / "tests" / "plugin_dist"
SYNC_SCRIPT = REPO / "scripts" / "sync_doc_files.py"
# What docs/cli.md (cancel --grace-period) and docs/plugins.md (_cancel_with_grace) both say.
GRACE_WORDING = (
    "between the polite stop (SIGTERM) and the kill, "
    "instead of the app's own `grace_period` option",
    "honour it by shortening the stop, never lengthening it",
    "other plugins stop apps their usual way",
)
SNIPPET_RE = re.compile(r'^--8<-- "([^"]+)"$', re.MULTILINE)
PYTHON_BLOCK_RE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _sync_doc_files() -> Any:
    """``scripts/sync_doc_files.py``, which copies files into the docs' file blocks."""
    spec = importlib.util.spec_from_file_location("sync_doc_files", SYNC_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plugin_guide_shows_every_file_of_the_example_plugin_verbatim() -> None:
    # Copied, not included: a snippet include shows no code when the page is
    # read raw (on a code host), so each file is a block marked with its path.
    shown = dict(_sync_doc_files().shown_files((DOCS / "plugins.md").read_text(encoding="utf-8")))
    sources = [PLUGIN_DIST / "pyproject.toml", *sorted(PLUGIN_DIST.glob("src/*/*.py"))]
    for source in sources:
        path = str(source.relative_to(REPO))
        assert path in shown, f"docs/plugins.md does not show {path}"
        assert shown[path] == source.read_text(encoding="utf-8"), (
            f"docs/plugins.md shows an old {path}: run python scripts/sync_doc_files.py"
        )
    assert not SNIPPET_RE.search((DOCS / "plugins.md").read_text(encoding="utf-8"))


def test_the_two_pages_on_cancel_grace_periods_say_the_same() -> None:
    for page in ("cli.md", "plugins.md"):
        text = " ".join((DOCS / page).read_text(encoding="utf-8").split())
        for words in GRACE_WORDING:
            assert words in text, f"docs/{page}: {words!r}"


def test_plugin_guide_gives_the_replica_environment_contract() -> None:
    from torchrun_core.specs.macros import RANK0_HOST_ENV
    from torchrun_core.tracking.app_run import REPLICA_ID_ENV, ROLE_ENV
    from torchrun_core.tracking.env import APP_HANDLE_ENV, PARENT_RUN_ID_ENV, TRACKERS_ENV

    guide = (DOCS / "plugins.md").read_text(encoding="utf-8")
    section = guide.split("### What a replica's environment must hold", 1)[-1].split("\n### ")[0]
    for name in (APP_HANDLE_ENV, TRACKERS_ENV, PARENT_RUN_ID_ENV, ROLE_ENV, REPLICA_ID_ENV):
        assert f"`{name}`" in section, name
    assert f"`{RANK0_HOST_ENV}`" in section
    assert ".apply_env(role.env)" in section and "apply_args" in section


def test_plugin_guide_says_how_a_scheduler_finds_its_run_options_again() -> None:
    guide = (DOCS / "plugins.md").read_text(encoding="utf-8")
    section = guide.split("### What a scheduler remembers", 1)[-1].split("\n### ")[0]
    assert "not passed back" in section and "keyed by the app id" in section


@pytest.mark.parametrize("page", sorted(DOCS.rglob("*.md")), ids=lambda p: p.name)
def test_python_examples_compile(page: Path) -> None:
    for number, block in enumerate(PYTHON_BLOCK_RE.findall(page.read_text(encoding="utf-8"))):
        if block.lstrip().startswith("--8<--"):
            continue  # an included file, compiled by its own tests
        compile(block, f"{page.name} block {number}", "exec")


def _subcommand_options() -> dict[str, list[str]]:
    """Each subcommand's long options and positional names, from its real parser."""
    from torchrun_core.cli.commands import COMMANDS

    out = {}
    for name, command in COMMANDS.items():
        parser = argparse.ArgumentParser()
        importlib.import_module(command.module).add_arguments(parser)
        out[name] = [
            next((s for s in action.option_strings if s.startswith("--")), action.option_strings[0])
            for action in parser._actions
            if action.option_strings and action.dest != "help"
        ]
    return out


def test_cli_reference_documents_every_subcommand_and_option() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.MULTILINE)
    by_command = {s.split("\n", 1)[0].strip("` ").split()[0]: s for s in sections[1:]}
    for command, options in _subcommand_options().items():
        assert command in by_command, f"docs/cli.md has no '## {command}' section"
        for option in options:
            assert f"`{option}" in by_command[command], f"docs/cli.md: {command} {option}"
