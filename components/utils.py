"""Small general-purpose components."""

from __future__ import annotations

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
    """Run a shell command line with ``sh -c``.

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
    """Run Python: a script, a module (``-m``) or code (``-c``).

    Args:
        args: arguments passed to the script, module or code
        m: run this module, as ``python -m``
        c: run this code, as ``python -c``
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
    exe = interpreter or (sys.executable if not image or "/" in image else "python3")
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
