"""Copy the files the docs show verbatim into their code blocks.

Run ``python scripts/sync_doc_files.py`` after changing such a file.

A page shows a file as a marker line, ``<!-- file: PATH -->`` (PATH from the
repository root), right before a fenced code block. The block holds the
file's text itself rather than a snippet include, so that the page reads the
same as raw Markdown on a code host as on the built site. This script
rewrites every such block from its file; ``tests/test_docs.py`` fails when a
block and its file differ, and names this script.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The marker, the opening fence (its info string kept), the old text, the closing fence.
BLOCK_RE = re.compile(
    r"^(?P<head><!-- file: (?P<path>\S+) -->\n(?:<!-- fmt: off -->\n)?```[^\n]*\n)"
    r"(?P<body>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)


def shown_files(page_text: str) -> list[tuple[str, str]]:
    """``(path, text shown)`` for every file block of a page."""
    return [(m["path"], m["body"]) for m in BLOCK_RE.finditer(page_text)]


def synced(page_text: str) -> str:
    """The page with every file block holding its file's current text."""

    def refill(match: re.Match[str]) -> str:
        text = (REPO / match["path"]).read_text(encoding="utf-8")
        return f"{match['head']}{text}```"

    return BLOCK_RE.sub(refill, page_text)


def main() -> int:
    for page in sorted((REPO / "docs").rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        new = synced(text)
        if new != text:
            page.write_text(new, encoding="utf-8")
            print(f"updated {page.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
