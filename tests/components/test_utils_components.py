"""The builtin utils.* components, each run for real on the local scheduler."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from torchrun_core.component_loading.loader import build_app
from torchrun_core.errors import ComponentError
from torchrun_core.runner import Runner
from torchrun_core.specs.state import AppState


@pytest.fixture
def runner() -> Iterator[Runner]:
    with Runner("components") as made:
        yield made


def run(runner: Runner, component: str, *args: str) -> tuple[AppState, list[str]]:
    """Run ``component`` on the local scheduler; its final state and its output lines."""
    handle = runner.run_component(component, list(args), "local")
    status = runner.wait(handle, timeout=60)
    return status.state, list(runner.log_lines(handle))


def test_echo(runner: Runner) -> None:
    assert run(runner, "utils.echo", "--msg", "hi there") == (AppState.SUCCEEDED, ["hi there\n"])


def test_echo_replicas(runner: Runner) -> None:
    handle = runner.run_component("utils.echo", ["--msg", "x", "--num_replicas", "2"], "local")
    status = runner.wait(handle, timeout=60)
    assert status.state is AppState.SUCCEEDED
    assert len(status.roles[0].replicas) == 2


def test_sh_joins_words_and_sets_env(runner: Runner) -> None:
    state, lines = run(runner, "utils.sh", "--env", "WHO=world", "--", "echo", "hello", "$WHO")
    assert (state, lines) == (AppState.SUCCEEDED, ["hello world\n"])


def test_sh_failure_is_reported(runner: Runner) -> None:
    state, _ = run(runner, "utils.sh", "exit 3")
    assert state is AppState.FAILED


def test_python_code_module_and_script(runner: Runner, tmp_path: Path) -> None:
    state, lines = run(runner, "utils.python", "--c", "import sys; print(sys.argv[1:])", "a", "b")
    assert (state, lines) == (AppState.SUCCEEDED, ["['a', 'b']\n"])
    state, lines = run(runner, "utils.python", "--m", "calendar", "2024", "1")
    assert state is AppState.SUCCEEDED and "January 2024" in "".join(lines)
    script = tmp_path / "script.py"
    script.write_text("import sys\nprint('script', *sys.argv[1:])\n")
    state, lines = run(runner, "utils.python", "--script", str(script), "x")
    assert (state, lines) == (AppState.SUCCEEDED, ["script x\n"])


def test_python_needs_exactly_one_of_m_c_script() -> None:
    with pytest.raises(ComponentError, match="give exactly one of --m, --c or --script"):
        build_app("utils.python", [])
    with pytest.raises(ComponentError, match="exactly one"):
        build_app("utils.python", ["--m", "x", "--c", "y"])


def test_python_uses_this_interpreter_locally() -> None:
    assert build_app("utils.python", ["--c", "pass"]).roles[0].entrypoint == sys.executable


def test_python_in_an_image_named_with_slashes_uses_the_images_python(tmp_path: Path) -> None:
    # Registry images have "/" in their names; only an existing directory is a local run.
    for image in ("torchrun-core/python:3.11", "127.0.0.1:5000/team/app@sha256:" + "0" * 64):
        role = build_app("utils.python", ["--c", "pass", "--image", image]).roles[0]
        assert role.entrypoint == "python3", image
    local = build_app("utils.python", ["--c", "pass", "--image", str(tmp_path)]).roles[0]
    assert local.entrypoint == sys.executable


def test_touch_creates_a_file(runner: Runner, tmp_path: Path) -> None:
    target = tmp_path / "made-by-touch"
    state, _ = run(runner, "utils.touch", "--file", str(target))
    assert state is AppState.SUCCEEDED
    assert target.is_file() and target.stat().st_size == 0


def test_touch_in_a_missing_directory_fails(runner: Runner, tmp_path: Path) -> None:
    state, _ = run(runner, "utils.touch", "--file", str(tmp_path / "no" / "such" / "file"))
    assert state is AppState.FAILED


def test_copy_a_file_creating_parents(runner: Runner, tmp_path: Path) -> None:
    src = tmp_path / "src.txt"
    src.write_text("payload\n")
    dst = tmp_path / "deep" / "er" / "dst.txt"
    state, lines = run(runner, "utils.copy", "--src", str(src), "--dst", str(dst))
    assert state is AppState.SUCCEEDED, lines
    assert dst.read_text() == "payload\n"
    assert lines == [f"copied {src} -> {dst}\n"]


def test_copy_a_file_into_a_directory(runner: Runner, tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("A")
    into = tmp_path / "into"
    into.mkdir()
    state, _ = run(runner, "utils.copy", "--src", str(src), "--dst", str(into))
    assert state is AppState.SUCCEEDED
    assert (into / "a.txt").read_text() == "A"


def test_copy_a_directory_tree_merging(runner: Runner, tmp_path: Path) -> None:
    src = tmp_path / "tree"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "top.txt").write_text("top")
    (src / "sub" / "deeper" / "leaf.txt").write_text("leaf")
    dst = tmp_path / "copy"
    dst.mkdir()
    (dst / "kept.txt").write_text("kept")
    state, _ = run(runner, "utils.copy", "--src", str(src), "--dst", str(dst))
    assert state is AppState.SUCCEEDED
    found = sorted(str(p.relative_to(dst)) for p in dst.rglob("*") if p.is_file())
    assert found == ["kept.txt", "sub/deeper/leaf.txt", "top.txt"]


def test_copy_of_a_missing_source_fails_with_one_line(runner: Runner, tmp_path: Path) -> None:
    state, lines = run(
        runner, "utils.copy", "--src", str(tmp_path / "missing"), "--dst", str(tmp_path / "d")
    )
    assert state is AppState.FAILED
    assert len(lines) == 1 and lines[0].startswith("copy failed: ")
    assert "Traceback" not in "".join(lines)


@pytest.mark.parametrize("which", ["--src", "--dst"])
def test_copy_rejects_remote_urls(which: str) -> None:
    args = {"--src": "/tmp/a", "--dst": "/tmp/b", which: "s3://bucket/key"}
    with pytest.raises(ComponentError, match=r"local paths only, not 's3://bucket/key'") as info:
        build_app("utils.copy", [w for kv in args.items() for w in kv])
    assert info.value.hint and "utils.copy --help" in info.value.hint


@pytest.mark.parametrize(
    ("x1", "x2", "value"), [("1", "3", 0.0), ("0", "0", 74.0), ("-2.5", "4", 38.25)]
)
def test_booth_prints_the_value(
    runner: Runner, tmp_path: Path, x1: str, x2: str, value: float
) -> None:
    out = tmp_path / "booth.json"
    state, lines = run(runner, "utils.booth", "--x1", x1, "--x2", x2, "--output", str(out))
    assert state is AppState.SUCCEEDED
    assert lines == [f"booth x1={float(x1)!r} x2={float(x2)!r} value={value!r}\n"]
    assert json.loads(out.read_text()) == {"x1": float(x1), "x2": float(x2), "value": value}


def test_booth_without_output_writes_nothing(runner: Runner, tmp_path: Path) -> None:
    state, lines = run(runner, "utils.booth", "--x1", "1", "--x2", "2")
    assert state is AppState.SUCCEEDED
    assert lines == ["booth x1=1.0 x2=2.0 value=5.0\n"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--x2", "1"], "the following arguments are required: --x1"),
        (["--x1", "one", "--x2", "1"], "argument --x1: invalid float value: 'one'"),
    ],
)
def test_booth_bad_arguments_name_the_argument(argv: list[str], needle: str) -> None:
    with pytest.raises(ComponentError) as info:
        build_app("utils.booth", argv)
    assert str(info.value) == f"component utils.booth: {needle}"
    assert info.value.context["usage"].startswith("usage: torchrun-core run utils.booth")
