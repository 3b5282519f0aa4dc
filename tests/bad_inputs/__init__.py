"""Files for the bad-input corpus (tests/test_bad_inputs_*.py), written into a test's dir.

They are written at test time, not kept in the tree, because several are
broken on purpose (a Python syntax error, a YAML syntax error) and would
trip the linters.
"""

from __future__ import annotations

from pathlib import Path

FILES = {
    # components
    "components.py": (
        "from torchrun_core import AppDef, Role\n\n\n"
        "def needs_name(name: str) -> AppDef:\n"
        '    """Echo a name.\n\n    Args:\n        name: who to greet\n    """\n'
        '    return AppDef(name="hi", roles=[Role(name="r", entrypoint="echo", args=[name])])\n\n\n'
        "def unannotated(name) -> AppDef:\n"
        '    return AppDef(name="hi", roles=[Role(name="r", entrypoint="echo")])\n'
    ),
    "syntax_error.py": "def fn(:\n    pass\n",
    "raises_on_import.py": "import os\n\nraise RuntimeError('configured wrongly')\n",
    # app files
    "bad_field.yaml": "name: app\nroles:\n  - name: r\n    entrypoint: echo\n    colour: red\n",
    "negative_replicas.yaml": "name: app\nroles:\n  - name: r\n    entrypoint: echo\n"
    "    num_replicas: -2\n",
    "yaml_syntax.yaml": "name: app\nroles: [\n  {name: r, entrypoint: echo\n",
    "empty.yaml": "",
    "only_comments.yml": "# nothing here yet\n",
    "a_list.yaml": "- name: app\n",
    "json_syntax.json": '{"name": "app", "roles": [}\n',
    "wrong_type.json": '{"name": "app", "roles": [{"name": "r", "entrypoint": "echo",'
    ' "num_replicas": "many"}]}\n',
    "ok.yaml": "name: app\nroles:\n  - name: r\n    entrypoint: echo\n",
    # over the replicas an app may have in all (torchrun_core.limits), though each role is within
    "too_many_replicas.yaml": "name: app\nroles:\n"
    + "".join(f"  - {{name: r{i}, entrypoint: echo, num_replicas: 6000}}\n" for i in range(2)),
    # a project config with a key that does not exist
    ".torchrun_core.toml": "no_such_setting = 1\n",
}

# The files every case gets, except the config file (only the config cases want it).
APP_AND_COMPONENT_FILES = {k: v for k, v in FILES.items() if not k.endswith(".toml")}


def write_files(directory: Path, names: dict[str, str] = APP_AND_COMPONENT_FILES) -> Path:
    """Write ``names`` (file name -> text) into ``directory``; returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in names.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory
