"""When the CLI process lets Python's cyclic garbage collector run.

Start-up allocates tens of thousands of long-lived objects (pydantic's
schemas and validators); collector passes over them during start-up, and the
final collection at interpreter exit, are pure overhead: about 40 ms of a
~200 ms ``run --wait``. So the console entry point pauses collection, a
command resumes it before any loop that may run for long (following logs,
waiting), and the heap is frozen before exit. Reference counting frees
everything acyclic all along.
"""

from __future__ import annotations

import gc


def pause() -> None:
    """Stop cyclic collection for start-up."""
    gc.disable()


def resume() -> None:
    """Collect again, skipping every object alive now (start-up's heap is long-lived).

    A no-op when collection was never paused, e.g. for in-process callers.
    """
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def freeze_for_exit() -> None:
    """Move every object to the permanent generation, so exit skips collecting them."""
    gc.freeze()
