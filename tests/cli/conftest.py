"""Fixtures of the CLI tests."""

from __future__ import annotations

import pytest

from .cli_process import CliRunner, run_cli


@pytest.fixture
def cli() -> CliRunner:
    """:func:`run_cli`; the autouse state-dir fixture has already set the environment."""
    return run_cli
