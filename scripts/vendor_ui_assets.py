"""Vendor uPlot (the dashboard's charts) into ``torchrun_core/ui/static/vendor/uplot/``.

The build runs this (``setup.py``), so the dashboard never loads anything
from a CDN and the files are never committed. It fetches one pinned npm
tarball, checks it against the pinned npm integrity (sha512), and copies out
only the minified script, the stylesheet and the license, plus a ``VERSION``
stamp. A directory whose stamp already matches is left alone, so building
from an sdist (which holds the files) needs no network.

Environment:
    TORCHRUN_CORE_UPLOT_TGZ  use this tarball instead of downloading (offline builds);
                             it must still match the pinned integrity
    npm_config_registry      the npm registry (or NPM_CONFIG_REGISTRY;
                             default https://registry.npmjs.org/)
    XDG_CACHE_HOME           downloads are cached in $XDG_CACHE_HOME/torchrun-core-build/
                             (default ~/.cache/torchrun-core-build/)

Usage: ``python scripts/vendor_ui_assets.py [--dest DIR]``
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import io
import os
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

PACKAGE = "uplot"
VERSION = "1.6.32"
# From the registry's dist.integrity for uplot@1.6.32.
INTEGRITY = "sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=="  # noqa: E501
# Tarball member -> file name in the vendor directory. Nothing else is extracted.
MEMBERS = {
    "package/dist/uPlot.iife.min.js": "uPlot.iife.min.js",
    "package/dist/uPlot.min.css": "uPlot.min.css",
    "package/LICENSE": "LICENSE",
}
STAMP = "VERSION"
OVERRIDE_ENV = "TORCHRUN_CORE_UPLOT_TGZ"
DEFAULT_REGISTRY = "https://registry.npmjs.org/"
DEFAULT_DEST = Path(__file__).resolve().parents[1] / "torchrun_core/ui/static/vendor/uplot"
TIMEOUT_S = 60


class VendorError(Exception):
    """Why the files could not be vendored, in one line."""


def stamp_text() -> str:
    """What ``VERSION`` holds once the pinned release is in place."""
    return f"{PACKAGE} {VERSION} {INTEGRITY}\n"


def is_current(dest: Path) -> bool:
    """True when ``dest`` holds every file and the stamp of the pinned release."""
    try:
        stamp = (dest / STAMP).read_text(encoding="utf-8")
    except OSError:
        return False
    return stamp == stamp_text() and all((dest / name).is_file() for name in MEMBERS.values())


def integrity_of(data: bytes) -> str:
    """The npm (Subresource Integrity) form of ``data``'s sha512."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def check_integrity(data: bytes, source: str) -> None:
    """Refuse ``data`` unless it is exactly the pinned tarball."""
    actual = integrity_of(data)
    if actual != INTEGRITY:
        raise VendorError(
            f"{source}: integrity mismatch for {PACKAGE}@{VERSION}"
            f" (expected {INTEGRITY}, got {actual})"
        )


def tarball_url() -> str:
    """The tarball's address on the configured npm registry."""
    registry = (
        os.environ.get("npm_config_registry")  # noqa: SIM112 (npm sets this spelling)
        or os.environ.get("NPM_CONFIG_REGISTRY")
        or DEFAULT_REGISTRY
    )
    return f"{registry.rstrip('/')}/{PACKAGE}/-/{PACKAGE}-{VERSION}.tgz"


def cached_tarball() -> Path:
    """Where a downloaded tarball is kept between builds."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says to ignore a relative value.
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "torchrun-core-build" / f"{PACKAGE}-{VERSION}.tgz"


def _write_atomically(path: Path, data: bytes) -> None:
    # A build interrupted halfway never leaves a truncated file under the final name.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; the wheel keeps the mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _download(url: str) -> bytes:
    hint = f"to build offline, set {OVERRIDE_ENV}=/path/to/{PACKAGE}-{VERSION}.tgz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            data: bytes = response.read()
            return data
    except urllib.error.HTTPError as exc:
        raise VendorError(f"cannot download {url}: HTTP {exc.code} {exc.reason}; {hint}") from None
    except urllib.error.URLError as exc:
        raise VendorError(f"cannot download {url}: {exc.reason}; {hint}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise VendorError(f"cannot download {url}: {exc!r}; {hint}") from None
    except ValueError as exc:  # a malformed registry address
        raise VendorError(f"cannot download {url}: {exc}") from None


def load_tarball() -> bytes:
    """The pinned tarball: the override, else the cache, else the registry (then cached)."""
    override = os.environ.get(OVERRIDE_ENV)
    if override:
        try:
            data = Path(override).read_bytes()
        except OSError as exc:
            raise VendorError(f"{OVERRIDE_ENV}={override}: {exc.strerror}") from None
        check_integrity(data, f"{OVERRIDE_ENV}={override}")
        return data
    cache = cached_tarball()
    try:
        data = cache.read_bytes()
    except OSError:
        pass
    else:
        if integrity_of(data) == INTEGRITY:
            return data
        # A damaged cache entry: fetch it again below and overwrite it.
    url = tarball_url()
    data = _download(url)
    check_integrity(data, url)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(cache, data)
    except OSError:
        pass  # a read-only home only costs a download next time
    return data


def read_members(data: bytes) -> dict[str, bytes]:
    """The wanted files' contents by vendored name; refuse a tarball that looks hostile.

    The pinned integrity already rules out a tampered tarball; these checks
    guard a future pin bump or a bad override.
    """
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar:
                path = PurePosixPath(member.name)
                if path.is_absolute() or ".." in path.parts or "\\" in member.name:
                    raise VendorError(f"refusing tarball member {member.name!r}: unsafe path")
                name = MEMBERS.get(member.name)
                if name is None:
                    continue
                if not member.isfile():
                    raise VendorError(f"refusing tarball member {member.name!r}: not a file")
                if name in found:
                    raise VendorError(f"refusing tarball member {member.name!r}: duplicated")
                stream = tar.extractfile(member)
                assert stream is not None  # a regular file always has one
                found[name] = stream.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise VendorError(f"not a readable .tgz: {exc}") from None
    missing = [member for member, name in MEMBERS.items() if name not in found]
    if missing:
        raise VendorError(f"the tarball lacks {', '.join(missing)}")
    return found


def ensure(dest: Path = DEFAULT_DEST) -> bool:
    """Put the pinned release's files in ``dest``; False when they already were."""
    if is_current(dest):
        return False
    files = read_members(load_tarball())
    dest.mkdir(parents=True, exist_ok=True)
    # The stamp goes first and comes back last: a run that stops midway is redone.
    (dest / STAMP).unlink(missing_ok=True)
    for name, content in files.items():
        _write_atomically(dest / name, content)
    _write_atomically(dest / STAMP, stamp_text().encode("utf-8"))
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--dest", type=Path, default=DEFAULT_DEST, help="directory to fill (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    dest: Path = args.dest
    try:
        changed = ensure(dest)
    except (VendorError, OSError) as exc:
        message = " ".join(str(exc).split())  # one line, whatever the cause
        print(f"error: {message}", file=sys.stderr)
        return 1
    print(f"{PACKAGE} {VERSION}: {'vendored into' if changed else 'already in'} {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
