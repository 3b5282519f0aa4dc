"""Print the JSON Schema of app files (AppDef.json_schema()), for editors and validators.

Save it once and point your editor at it; with VS Code's YAML extension:
    torchrun-core schema > appdef.schema.json
then begin an app file with the line
    # yaml-language-server: $schema=appdef.schema.json
See the "App files" page of the docs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``schema`` takes no arguments besides ``--debug``."""


def app_file_schema() -> dict[str, Any]:
    """The JSON Schema of an app file.

    Printed as pydantic generates it, without a ``$schema`` dialect line:
    it uses only keywords that draft-07 validators (the newest that some
    editors' YAML servers support) read the same way as draft 2020-12 ones.
    """
    from torchrun_core.specs.app import AppDef

    return AppDef.json_schema()


def execute(args: argparse.Namespace) -> int:
    sys.stdout.write(json.dumps(app_file_schema(), indent=2) + "\n")
    return 0
