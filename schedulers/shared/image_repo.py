"""The ``image_repo`` run option: the registry repository workspace images are pushed to."""

from __future__ import annotations

import re

# registry[:port]/path, lower case, no tag and no digest: the tag is the content hash.
_REPO_RE = re.compile(r"^[a-z0-9.-]+(:\d+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+$")

DESCRIPTION = (
    "registry repository (host[:port]/path) that --workspace images are pushed to, "
    "tagged by content and run by digest"
)


def check_image_repo(value: str | None) -> str | None:
    """``value`` when it is a repository without tag or digest.

    Raises:
        ValueError: otherwise (pydantic names the option).
    """
    if value is None or value == "":
        return None
    if not _REPO_RE.match(value):
        raise ValueError(
            f"{value!r} is not a repository like 127.0.0.1:5000/team/app "
            "(registry host, then a lower-case path; no tag, no digest)"
        )
    return value
