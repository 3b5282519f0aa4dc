"""Print the JSON Schema of app files (AppDef), for editors and validators.

Save it once and point your editor at it, e.g. for VS Code's YAML extension:
    torchrun-core schema > appdef.schema.json
then start an app file with
    # yaml-language-server: $schema=appdef.schema.json
See docs/app-files.md.
"""

from __future__ import annotations

import argparse
import json
import sys

# The dialect pydantic generates; naming it lets editors pick the right validator.
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``schema`` takes no arguments besides ``--debug``."""


def app_file_schema() -> dict[str, object]:
    """``AppDef.json_schema()`` with its ``$schema`` dialect named first."""
    from torchrun_core.specs.app import AppDef

    return {"$schema": JSON_SCHEMA_DIALECT, **AppDef.json_schema()}


def execute(args: argparse.Namespace) -> int:
    sys.stdout.write(json.dumps(app_file_schema(), indent=2) + "\n")
    return 0
