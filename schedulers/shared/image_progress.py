"""Progress of an image build or push: rich bars on a TTY, nothing extra off one.

It also keeps what the caller needs afterwards: a failed build's step and last
output lines, and what a push sent (layers pushed, layers the registry
already had, bytes).
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterator
from types import TracebackType
from typing import Any

_LAST_LINES = 5


class BuildFailure(Exception):
    """A build stopped: the step it was at, the daemon's error, the step's last output."""

    def __init__(self, step: str | None, error: str, last_lines: list[str]) -> None:
        super().__init__(error)
        self.step, self.error, self.last_lines = step, error, last_lines


class ImageProgress:
    """Shows one build or push; a context manager, quiet unless stderr is a terminal."""

    def __init__(self, title: str, show: bool | None = None) -> None:
        self.title = title
        self.show = sys.stderr.isatty() if show is None else show
        self.pushed_layers: set[str] = set()
        self.existing_layers: set[str] = set()
        self._layer_bytes: dict[str, int] = {}
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}

    @property
    def pushed_bytes(self) -> int:
        """Bytes of the layers this push sent (their sizes as the daemon reported them)."""
        return sum(self._layer_bytes.get(layer, 0) for layer in self.pushed_layers)

    def __enter__(self) -> ImageProgress:
        if self.show:
            try:
                from rich.console import Console
                from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn
            except ImportError:  # the [rich] extra is optional: then plain lines
                self._progress = None
            else:
                self._progress = Progress(
                    TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    console=Console(stderr=True), transient=True,
                )  # fmt: skip
                self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _say(self, text: str) -> None:
        if not self.show:
            return
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            sys.stderr.write(text + "\n")

    def follow_build(self, events: Iterator[Any]) -> None:
        """Consume a build's event stream, showing its steps.

        Raises:
            BuildFailure: the build reported an error.
        """
        step: str | None = None
        last: deque[str] = deque(maxlen=_LAST_LINES)
        for event in events:
            if not isinstance(event, dict):
                continue
            if event.get("error"):
                raise BuildFailure(step, str(event["error"]).strip(), list(last))
            for line in str(event.get("stream") or "").splitlines():
                line = line.rstrip()
                if line.startswith("Step "):
                    step = line
                    last.clear()
                    self._say(f"{self.title}: {line}")
                elif line and not line.startswith((" ---> ", "Removing intermediate")):
                    last.append(line)

    def push_event(self, event: dict[str, Any]) -> None:
        """Note one event of a push stream (a layer's state or progress)."""
        layer, status = event.get("id"), str(event.get("status") or "")
        if not layer:
            return
        detail = event.get("progressDetail") or {}
        if detail.get("total"):
            self._layer_bytes[layer] = max(self._layer_bytes.get(layer, 0), int(detail["total"]))
        if status == "Pushed":
            self.pushed_layers.add(layer)
        elif status == "Layer already exists":
            self.existing_layers.add(layer)
        if self._progress is not None and status in ("Pushing", "Pushed"):
            task = self._tasks.get(layer)
            if task is None:
                task = self._tasks[layer] = self._progress.add_task(f"{self.title} {layer}")
            if status == "Pushed":  # its event has no progress: the bar ends full
                size = self._layer_bytes.get(layer) or 1
                self._progress.update(task, completed=size, total=size)
            else:
                self._progress.update(
                    task, completed=detail.get("current", 0), total=detail.get("total") or None
                )
