"""The docs stay in sync with the code they describe.

``mkdocs build --strict`` (in the test command) catches broken links and
missing snippet files; these tests catch docs that are still valid Markdown
but no longer true: a plugin file the guide forgets, Python examples that do
not compile, a CLI subcommand or option the CLI reference does not mention.
"""

from __future__ import annotations

import argparse
import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PLUGIN_DIST = REPO / "tests" / "plugin_dist"
SNIPPET_RE = re.compile(r'^--8<-- "([^"]+)"$', re.MULTILINE)
PYTHON_BLOCK_RE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_plugin_guide_includes_every_file_of_the_example_plugin() -> None:
    included = set(SNIPPET_RE.findall((DOCS / "plugins.md").read_text(encoding="utf-8")))
    for path in included:
        assert (REPO / path).is_file(), f"docs/plugins.md includes missing {path}"
    sources = {
        str(p.relative_to(REPO))
        for p in [PLUGIN_DIST / "pyproject.toml", *PLUGIN_DIST.glob("src/*/*.py")]
    }
    assert sources <= included, f"not shown in docs/plugins.md: {sorted(sources - included)}"


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
