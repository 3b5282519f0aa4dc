"""``torchrun_tee.tail_logfile``: torchrun's tailer, writing whole lines only (no torch needed).

A worker under torchrun writes ``print``'s text and newline apart; the tailer
must never write the text before its newline arrives, or another rank's line
lands in between (issue 13, item 10). The tests drive the tailer with a
``finished`` flag that appends to the file each time the tailer waits, so what
the tailer sees between two reads is fixed, with no threads and no timing.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from torchrun_core.components.torchrun_tee import tail_logfile


class GrowingFile:
    """A ``finished`` flag: each wait appends the next piece to the file; then finished."""

    def __init__(self, path: Path, pieces: list[str]) -> None:
        self.path = path
        self.pieces: Iterator[str] = iter(pieces)

    def is_set(self) -> bool:
        piece = next(self.pieces, None)
        if piece is None:
            return True
        with self.path.open("a") as f:
            f.write(piece)
        return False


def tail(path: Path, pieces: list[str]) -> str:
    out = io.StringIO()
    tail_logfile("[rank1]:", str(path), out, GrowingFile(path, pieces), 0, lambda _: True)
    return out.getvalue()


def test_a_line_is_written_only_with_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "stdout.log"
    path.write_text("first\nsecond")  # "second": its newline not written yet
    assert tail(path, ["", "\nthird", " still third\n"]) == (
        "[rank1]:first\n[rank1]:second\n[rank1]:third still third\n"
    )


def test_the_last_line_without_newline_gets_one(tmp_path: Path) -> None:
    path = tmp_path / "stdout.log"
    path.write_text("done")
    assert tail(path, []) == "[rank1]:done\n"


def test_a_file_never_made_writes_nothing(tmp_path: Path) -> None:
    assert tail(tmp_path / "missing.log", []) == ""


def test_the_filter_drops_lines(tmp_path: Path) -> None:
    path = tmp_path / "stdout.log"
    path.write_text("keep\ndrop\n")
    out = io.StringIO()
    tail_logfile("", str(path), out, GrowingFile(path, []), 0, lambda line: "keep" in line)
    assert out.getvalue() == "keep\n"


def test_without_a_filter_every_line_is_written(tmp_path: Path) -> None:
    # Older torch calls its tailer without log_line_filter.
    path = tmp_path / "stdout.log"
    path.write_text("a\nb\n")
    out = io.StringIO()
    tail_logfile("", str(path), out, GrowingFile(path, []), 0)
    assert out.getvalue() == "a\nb\n"


def test_the_program_replicas_run_is_this_module_without_docstrings(tmp_path: Path) -> None:
    from torchrun_core.components.dist import tee_program

    program = tee_program()
    assert '"""' not in program and "#" not in program.replace("${rank}", "")
    namespace: dict[str, object] = {"__name__": "not_main"}  # define, do not run torchrun
    exec(compile(program, "<torchrun_tee>", "exec"), namespace)
    path = tmp_path / "stdout.log"
    path.write_text("half")
    out = io.StringIO()
    tail = namespace["tail_logfile"]
    assert callable(tail)
    tail("[rank0]:", str(path), out, GrowingFile(path, [" line\n"]), 0, lambda _: True)
    assert out.getvalue() == "[rank0]:half line\n"
