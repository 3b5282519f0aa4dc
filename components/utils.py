"""Small general-purpose components."""

from __future__ import annotations

import os
import sys

from torchrun_core.specs.app import AppDef, Role


def echo(msg: str = "hello world", image: str = "", num_replicas: int = 1) -> AppDef:
    """Print a message from every replica.

    Args:
        msg: the message to print
        image: image (or directory, for local) to run in
        num_replicas: how many replicas print it
    """
    return AppDef(
        name="echo",
        roles=[
            Role(name="echo", image=image, entrypoint="echo", args=[msg], num_replicas=num_replicas)
        ],
    )


def sh(
    *args: str, image: str = "", num_replicas: int = 1, env: dict[str, str] | None = None
) -> AppDef:
    """Run a shell command line with sh -c.

    Args:
        args: the command line; its words are joined by spaces
        image: image (or directory, for local) to run in
        num_replicas: how many replicas run it
        env: extra environment variables, as k=v,k2=v2
    """
    return AppDef(
        name="sh",
        roles=[
            Role(
                name="sh",
                image=image,
                entrypoint="sh",
                args=["-c", " ".join(args)],
                num_replicas=num_replicas,
                env=env or {},
            )
        ],
    )


def python(
    *args: str,
    m: str | None = None,
    c: str | None = None,
    script: str | None = None,
    image: str = "",
    num_replicas: int = 1,
    interpreter: str = "",
) -> AppDef:
    """Run Python: a script, a module (-m) or code (-c).

    Args:
        args: arguments passed to the script, module or code
        m: run this module, as python -m
        c: run this code, as python -c
        script: run this script file
        image: image (or directory, for local) to run in
        num_replicas: how many replicas run it
        interpreter: the python to use (default: this one for local runs, else python3)
    """
    chosen = [x for x in (m, c, script) if x is not None]
    if len(chosen) != 1:
        raise ValueError("give exactly one of --m, --c or --script")
    if m is not None:
        head = ["-m", m]
    elif c is not None:
        head = ["-c", c]
    else:
        head = [str(script)]
    exe = _python_executable(image, interpreter)
    return AppDef(
        name="python",
        roles=[
            Role(
                name="python",
                image=image,
                entrypoint=exe,
                args=[*head, *args],
                num_replicas=num_replicas,
            )
        ],
    )


def _python_executable(image: str, interpreter: str = "") -> str:
    """This interpreter for local runs (no image, or an existing directory), else ``python3``.

    Only a directory that exists is local: an image name may hold "/" too
    (``torchrun-core/python:3.11``, ``registry:5000/team/app``).
    """
    local = not image or os.path.isdir(os.path.expanduser(image))
    return interpreter or (sys.executable if local else "python3")


def touch(file: str, image: str = "") -> AppDef:
    """Create a file (or update its modification time) with touch.

    Args:
        file: the path of the file, as the app sees it
        image: image (or directory, for local) to run in
    """
    return AppDef(
        name="touch",
        roles=[Role(name="touch", image=image, entrypoint="touch", args=[file])],
    )


# Runs inside the app: argv is [src, dst]. Errors become one line and exit 1.
_COPY_CODE = """\
import os, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
try:
    if os.path.isdir(src):
        shutil.copytree(src, dst, dirs_exist_ok=True)
    else:
        if dst.endswith(("/", os.sep)):
            os.makedirs(dst, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
        shutil.copy2(src, dst)
except OSError as err:
    sys.exit(f"copy failed: {err}")
print(f"copied {src} -> {dst}")
"""


def copy(src: str, dst: str, image: str = "") -> AppDef:
    """Copy a local file or directory tree (local paths only, no URLs).

    A directory is copied recursively into DST (merging with what is
    there); a file is copied to DST, or into it when DST is a directory.
    Parent directories are created. Remote URLs (s3://, gs://...) would
    need an fsspec-based component from an extra package; this one
    rejects them.

    Args:
        src: the file or directory to copy
        dst: where to copy it
        image: image (or directory, for local) to run in
    """
    for path in (src, dst):
        if "://" in path:
            raise ValueError(
                f"utils.copy copies local paths only, not {path!r}: remote URLs need an "
                "fsspec-based component from an extra package"
            )
    return AppDef(
        name="copy",
        roles=[
            Role(
                name="copy",
                image=image,
                entrypoint=_python_executable(image),
                args=["-c", _COPY_CODE, src, dst],
            )
        ],
    )


# Runs inside the app: argv is [x1, x2] or [x1, x2, output_file].
_BOOTH_CODE = """\
import json, sys
x1, x2 = float(sys.argv[1]), float(sys.argv[2])
value = (x1 + 2 * x2 - 7) ** 2 + (2 * x1 + x2 - 5) ** 2
print(f"booth x1={x1!r} x2={x2!r} value={value!r}", flush=True)
if len(sys.argv) > 3:
    with open(sys.argv[3], "w", encoding="utf-8") as out:
        json.dump({"x1": x1, "x2": x2, "value": value}, out)
        out.write("\\n")
"""


def booth(x1: float, x2: float, output: str | None = None, image: str = "") -> AppDef:
    """Evaluate the Booth function, a toy objective for hyper-parameter search demos.

    f(x1, x2) = (x1 + 2*x2 - 7)^2 + (2*x1 + x2 - 5)^2, whose minimum is
    f(1, 3) = 0. The app prints one line, "booth x1=... x2=... value=...",
    and with --output also writes {"x1": ..., "x2": ..., "value": ...} as
    JSON to that file.

    Args:
        x1: the first coordinate
        x2: the second coordinate
        output: also write the result as JSON to this file
        image: image (or directory, for local) to run in
    """
    args = ["-c", _BOOTH_CODE, repr(float(x1)), repr(float(x2))]
    if output:
        args.append(output)
    return AppDef(
        name="booth",
        roles=[Role(name="booth", image=image, entrypoint=_python_executable(image), args=args)],
    )
