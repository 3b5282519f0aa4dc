"""Finding the line of each key in a TOML text (tomllib gives no positions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from torchrun_core.config.files import parse_toml
from torchrun_core.config.lines import key_lines, line_of

DOC = """\
# a comment with key = "value" and [table]
scheduler = "local"   # trailing comment

[schedulers.local]
grace_period = 2
log_dir = \"\"\"
not_a_key = 1
[not.a.table]
\"\"\"
literal = '''
also = "not a key"
'''
args = [1,
  2, "x = 3",   # comment in an array
  {inner = 1}]

[components."utils.echo"]
msg = "hi"
"a.b".c = 'q'
inline = {k = 1, "m.n" = {z = 2}}

[ trackers . 'file' ]
config = "/tmp/runs"

[[arr.t]]
y = 1
"""


def test_the_document_is_valid_toml() -> None:
    parse_toml(DOC, Path("doc.toml"))  # the scanner may assume it


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("scheduler",), 2),
        (("schedulers",), 4),
        (("schedulers", "local"), 4),
        (("schedulers", "local", "grace_period"), 5),
        (("schedulers", "local", "log_dir"), 6),
        (("schedulers", "local", "literal"), 10),
        (("schedulers", "local", "args"), 13),
        (("components", "utils.echo"), 17),
        (("components", "utils.echo", "msg"), 18),
        (("components", "utils.echo", "a.b"), 19),
        (("components", "utils.echo", "a.b", "c"), 19),
        (("components", "utils.echo", "inline", "m.n", "z"), 20),
        (("trackers", "file"), 22),
        (("trackers", "file", "config"), 23),
        (("arr", "t", "y"), 26),
    ],
)
def test_each_key_has_the_line_it_is_defined_on(path: tuple[str, ...], line: int) -> None:
    assert key_lines(DOC)[path] == line


def test_text_inside_strings_and_comments_defines_no_key() -> None:
    lines = key_lines(DOC)
    for fake in ("not_a_key", "not", "also", "inner", "key"):
        assert not any(fake in path for path in lines), fake


def test_escapes_in_quoted_keys_are_decoded() -> None:
    lines = key_lines('[a]\n"tab\\there" = 1\n"\\u00e9t\\u00E9" = 2\n')
    assert lines[("a", "tab\there")] == 2
    assert lines[("a", "été")] == 3


def test_multiline_string_ending_in_quotes_and_crlf_lines() -> None:
    text = 'a = """x""""\r\nb = 1\r\n'
    assert parse_toml(text, Path("t.toml")) == {"a": 'x"', "b": 1}
    assert key_lines(text) == {("a",): 1, ("b",): 2}


def test_a_key_first_defined_by_a_dotted_key_keeps_that_line() -> None:
    text = "a.b = 1\n[a.c]\nd = 2\n"
    assert key_lines(text) == {("a",): 1, ("a", "b"): 1, ("a", "c"): 2, ("a", "c", "d"): 3}


@pytest.mark.parametrize("text", ["[unclosed", 'a = "open', "= 1", "a = [1, 2", "@", ""])
def test_text_it_cannot_follow_gives_what_it_found_without_raising(text: str) -> None:
    assert isinstance(key_lines(f"x = 1\n{text}"), dict)
    assert key_lines(f"x = 1\n{text}").get(("x",)) == 1


def test_line_of_falls_back_to_the_nearest_enclosing_key() -> None:
    lines = key_lines("[t]\na = 1\n")
    assert line_of(lines, ("t", "a")) == 2
    assert line_of(lines, ("t", "missing", "deeper")) == 1
    assert line_of(lines, ("other",)) is None
