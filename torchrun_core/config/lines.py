"""Find the line on which each key of a TOML document is defined.

``tomllib`` parses TOML but reports no positions, and error messages about
a config file should name the line of the offending key. This scanner walks
a document that ``tomllib`` has already accepted and records, for every key
path (``("schedulers", "local", "grace_period")``), the 1-based line where it
first appears: a ``[table]`` header, a ``key = value`` line, a dotted key or
a key inside an inline table. Keys of inline tables inside arrays are not
recorded (their paths would need an index) and keys under an ``[[array]]``
header are recorded without one. The scan is best effort: on input it cannot follow it stops
and keeps what it found, so a caller must allow a key to be missing.
"""

from __future__ import annotations

import bisect
import contextlib

KeyPath = tuple[str, ...]

_BARE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", "e": "\x1b"}
_SCALAR_END = frozenset(",]}#\r\n")


class _Scanner:
    """A cursor over the text that records key paths with their lines."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.lines: dict[KeyPath, int] = {}
        self._newlines = [i for i, c in enumerate(text) if c == "\n"]

    # -- positions ----------------------------------------------------------
    def line_at(self, pos: int) -> int:
        return bisect.bisect_left(self._newlines, pos) + 1

    def record(self, path: KeyPath, pos: int) -> None:
        """Note every prefix of ``path`` not seen before as defined at ``pos``."""
        line = self.line_at(pos)
        for end in range(1, len(path) + 1):
            self.lines.setdefault(path[:end], line)

    def peek(self, length: int = 1) -> str:
        return self.text[self.pos : self.pos + length]

    def expect(self, token: str) -> None:
        if not self.text.startswith(token, self.pos):
            raise ValueError(f"expected {token!r} at offset {self.pos}")
        self.pos += len(token)

    def check_progress(self, before: int) -> None:
        """Stop on text the scanner does not understand rather than loop on it."""
        if self.pos <= before:
            raise ValueError(f"stuck at offset {self.pos}")

    # -- whitespace ---------------------------------------------------------
    def skip_blanks(self) -> None:
        """Spaces and tabs."""
        while self.peek() in (" ", "\t"):
            self.pos += 1

    def skip_space(self) -> None:
        """Spaces, tabs, newlines and comments."""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in " \t\r\n":
                self.pos += 1
            elif char == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            else:
                return

    # -- keys -----------------------------------------------------------------
    def key(self) -> list[str]:
        """A dotted key: ``a``, ``a.b``, ``"a.b".c``, ``'x'``."""
        parts = []
        while True:
            self.skip_blanks()
            parts.append(self.simple_key())
            self.skip_blanks()
            if self.peek() != ".":
                return parts
            self.pos += 1

    def simple_key(self) -> str:
        char = self.peek()
        if char == '"':
            return self.basic_string()
        if char == "'":
            end = self.text.index("'", self.pos + 1)
            word = self.text[self.pos + 1 : end]
            self.pos = end + 1
            return word
        start = self.pos
        while self.peek() and self.peek() in _BARE_KEY_CHARS:
            self.pos += 1
        if start == self.pos:
            raise ValueError(f"no key at offset {start}")
        return self.text[start : self.pos]

    def basic_string(self) -> str:
        """A one-line ``"..."`` string, escapes decoded."""
        self.expect('"')
        out: list[str] = []
        while (char := self.text[self.pos]) != '"':
            if char == "\\":
                code = self.text[self.pos + 1]
                if code in "uU":
                    width = 4 if code == "u" else 8
                    out.append(chr(int(self.text[self.pos + 2 : self.pos + 2 + width], 16)))
                    self.pos += 2 + width
                    continue
                out.append(_ESCAPES.get(code, code))
                self.pos += 2
                continue
            out.append(char)
            self.pos += 1
        self.pos += 1
        return "".join(out)

    # -- values ---------------------------------------------------------------
    def value(self, path: KeyPath | None) -> None:
        """Skip one value; record the keys of an inline table under ``path`` (None: don't)."""
        self.skip_blanks()
        if self.peek(3) in ('"""', "'''"):
            self.multiline_string(self.peek(3))
        elif self.peek() == '"':
            self.basic_string()
        elif self.peek() == "'":
            self.pos = self.text.index("'", self.pos + 1) + 1
        elif self.peek() == "[":
            self.array()
        elif self.peek() == "{":
            self.inline_table(path)
        else:
            while self.peek() and self.peek() not in _SCALAR_END:
                self.pos += 1

    def multiline_string(self, quote: str) -> None:
        self.pos += 3
        while not self.text.startswith(quote, self.pos):
            self.pos += 2 if quote == '"""' and self.text[self.pos] == "\\" else 1
            if self.pos >= len(self.text):
                raise ValueError("unterminated string")
        self.pos += 3
        # Up to two quotes right before the closing delimiter belong to the string.
        for _ in range(2):
            if self.peek() == quote[0]:
                self.pos += 1

    def array(self) -> None:
        self.expect("[")
        while True:
            self.skip_space()
            if self.peek() == "]":
                self.pos += 1
                return
            before = self.pos
            self.value(None)
            self.skip_space()
            if self.peek() == ",":
                self.pos += 1
            self.check_progress(before)

    def inline_table(self, path: KeyPath | None) -> None:
        self.expect("{")
        while True:
            self.skip_space()
            if self.peek() == "}":
                self.pos += 1
                return
            before = self.pos
            self.key_value(path)
            self.skip_space()
            if self.peek() == ",":
                self.pos += 1
            self.check_progress(before)

    def key_value(self, table: KeyPath | None) -> None:
        start = self.pos
        keys = tuple(self.key())
        if table is not None:
            self.record(table + keys, start)
        self.skip_blanks()
        self.expect("=")
        self.value(None if table is None else table + keys)

    # -- document ---------------------------------------------------------------
    def document(self) -> None:
        table: KeyPath = ()
        while True:
            self.skip_space()
            if self.pos >= len(self.text):
                return
            start = self.pos
            if self.peek(2) == "[[":
                self.pos += 2
                table = tuple(self.key())
                self.expect("]]")
                self.record(table, start)
            elif self.peek() == "[":
                self.pos += 1
                table = tuple(self.key())
                self.expect("]")
                self.record(table, start)
            else:
                self.key_value(table)


def key_lines(text: str) -> dict[KeyPath, int]:
    """Key path -> the 1-based line where it is first defined in the TOML ``text``.

    Never raises: a document the scanner cannot follow gives the keys found
    up to that point.
    """
    scanner = _Scanner(text)
    with contextlib.suppress(ValueError, IndexError):
        scanner.document()
    return scanner.lines


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """The line of ``path``, or of its longest recorded prefix; None if no prefix is known."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None
