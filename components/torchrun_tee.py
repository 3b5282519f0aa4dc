"""Run torchrun so that each worker's lines come out whole and prefixed with its rank.

``dist.ddp`` and ``dist.spmd`` do not run ``python -m torch.distributed.run``
directly: several workers of one node share the node's stdout, and a worker
under torchrun is unbuffered (torchrun passes ``-u``), so ``print`` writes the
text and the newline apart and two ranks' lines glue into one. Instead the
replica runs this module's source as ``python -c`` (the image needs nothing
but torch), which:

- starts torchrun with ``--tee 3``: each worker writes to its own file, and
  torchrun tails the files to the node's stdout and stderr, each line behind
  the ``[rank<global rank>]:`` prefix;
- replaces torchrun's tailer with :func:`tail_logfile`, which holds a partial
  line until its newline (or until the worker ends) and writes prefix and line
  in one locked write, so lines stay whole whatever the worker's buffering;
- keeps the per-rank files in a temporary directory it removes when torchrun
  exits, so that a node's disk does not fill with a second copy of the logs.

Only the standard library is imported at module level, so the module is
type-checked and unit-tested without torch.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Protocol, TextIO

PREFIX_TEMPLATE = "[rank${rank}]:"
_WRITE_LOCK = threading.Lock()


class _Flag(Protocol):
    def is_set(self) -> bool: ...


def tail_logfile(
    header: str,
    file: str,
    dst: TextIO,
    finished: _Flag,
    interval_sec: float,
    log_line_filter: Callable[[str], bool] | None = None,
) -> None:
    """torchrun's ``tail_logfile`` (same signature), writing only whole lines.

    A line without its newline yet is held until the rest arrives; once the
    worker has finished, its last unterminated line is written with a newline.
    """
    while not os.path.exists(file):
        if finished.is_set():
            return
        time.sleep(interval_sec)
    with open(file, errors="replace") as fp:
        line = ""
        while True:
            line += fp.readline()
            if not line.endswith("\n"):  # end of the file for now
                if not finished.is_set():
                    time.sleep(interval_sec)
                    continue
                if not line:
                    return
                line += "\n"
            # torch 2.13's tailer is given a filter and writes what it accepts; older
            # torch passes none and writes every line.
            if log_line_filter is None or log_line_filter(line):
                with _WRITE_LOCK:  # every tailer of this node writes to the same streams
                    dst.write(header + line)
                    dst.flush()
            line = ""


def main(argv: list[str]) -> None:
    """Run torchrun with ``argv`` (its options and the target), whole rank-prefixed lines."""
    try:
        tail_log = importlib.import_module("torch.distributed.elastic.multiprocessing.tail_log")
    except ImportError:  # a torch without it still runs the job, with its own tailing
        pass
    else:
        tail_log.tail_logfile = tail_logfile  # type: ignore[attr-defined]
    os.environ.setdefault("TORCHELASTIC_LOG_LINE_PREFIX_TEMPLATE", PREFIX_TEMPLATE)
    log_dir = tempfile.mkdtemp(prefix="torchrun-tee-")
    sys.argv = ["torchrun", "--tee", "3", "--log-dir", log_dir, *argv]
    try:
        importlib.import_module("torch.distributed.run").main()
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
