"""Turn an exception escaping a subcommand into stderr lines and an exit code."""

from __future__ import annotations

import os
import sys

from torchrun_core.errors import TorchrunCoreError

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE


def print_error(message: str, hint: str | None = None) -> None:
    """``error: <message>`` and, if given, ``hint: <hint>`` on stderr."""
    sys.stdout.flush()
    text = f"error: {message}\n"
    if hint:
        text += f"hint: {hint}\n"
    sys.stderr.write(text)
    sys.stderr.flush()


def _as_library_error(err: BaseException) -> BaseException:
    """A pydantic ValidationError becomes the SpecError naming its fields."""
    if type(err).__name__ == "ValidationError" and type(err).__module__.startswith("pydantic"):
        from torchrun_core.specs.app import spec_error

        return spec_error(err)  # type: ignore[arg-type]
    return err


def silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush cannot fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)


def report(err: BaseException, debug: bool) -> int:
    """Print ``err`` the CLI way and return the exit code for it."""
    if isinstance(err, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(err, BrokenPipeError):  # e.g. `torchrun-core log ... | head`
        silence_stdout()
        return EXIT_BROKEN_PIPE
    err = _as_library_error(err)
    if debug:
        sys.stdout.flush()
        import traceback  # only with --debug

        traceback.print_exception(type(err), err, err.__traceback__)
    if isinstance(err, TorchrunCoreError):
        usage = err.context.get("usage")
        if usage:
            sys.stderr.write(f"{usage}\n")
        print_error(err.message, err.hint)
        return err.exit_code
    print_error(
        f"internal error: {type(err).__name__}: {err}",
        None if debug else "rerun with --debug for a traceback",
    )
    return 1
