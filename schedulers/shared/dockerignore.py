"""``.dockerignore`` rules: which files of a workspace stay out of its image.

The same rules as docker's: one pattern a line, ``#`` comments, a leading
``/`` ignored, ``*`` and ``?`` within one path segment, ``**`` across any
number of segments, ``[...]`` classes, ``!`` to include again. Every
pattern is tried in order and the last one matching a path decides; a
pattern matching a directory matches everything below it.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

IGNORE_FILE = ".dockerignore"


@dataclass(frozen=True)
class IgnoreRule:
    """One pattern: its regex, and whether it includes again (``!``)."""

    pattern: str
    regex: re.Pattern[str]
    include: bool


def _translate(pattern: str) -> str:
    """A regex matching exactly the paths ``pattern`` matches."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):  # "**/" is zero or more whole segments
                i += 1
                out.append("(?:.*/)?")
            else:
                out.append(".*")
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                if body.startswith(("!", "^")):
                    body = "^" + body[1:]
                out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
                i = end
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def parse_rules(text: str) -> list[IgnoreRule]:
    """The rules of an ignore file's text."""
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        if include:
            line = line[1:].strip()
        line = posixpath.normpath(line).lstrip("/")
        if not line or line == ".":
            continue
        rules.append(IgnoreRule(line, re.compile(_translate(line) + r"\Z"), include))
    return rules


def read_rules(root: Path, names: tuple[str, ...] = (IGNORE_FILE,)) -> list[IgnoreRule]:
    """The rules of the ignore files ``names`` in ``root``, in that order; missing ones add none."""
    rules: list[IgnoreRule] = []
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            rules += parse_rules((root / name).read_text(encoding="utf-8"))
    return rules


def is_ignored(rel_path: str, rules: list[IgnoreRule]) -> bool:
    """True when ``rel_path`` (``a/b/c``, relative to the workspace) stays out."""
    if not rules:
        return False
    parts = rel_path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for rule in rules:
        if any(rule.regex.match(p) for p in prefixes):
            ignored = not rule.include
    return ignored


def can_prune(rules: list[IgnoreRule]) -> bool:
    """True when an ignored directory can be skipped whole: no rule includes again."""
    return not any(rule.include for rule in rules)
