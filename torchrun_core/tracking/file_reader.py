"""Read back what the ``file`` tracker recorded for a run, merged over its processes' files.

Metric lines, by far the most numerous, have the fixed shape the file
backend writes (``{"t":"m","k":TAG,"v":V,"s":STEP,"w":TIME}``) and are
picked out with one regular expression over the whole file, a few times
faster than a ``json.loads`` per line; every other line is parsed as JSON.
A metric line of another shape makes the whole file go through JSON. A
last line without its newline is being written, or was cut by a crash: it
is skipped, and so is a damaged line.
"""

from __future__ import annotations

import json
import operator
import re
from pathlib import Path
from typing import Any

from torchrun_core.tracking.file_layout import FILE_EXT, run_dir
from torchrun_core.tracking.records import Checkpoint, MetricPoint, RunData

_METRIC_START = '{"t":"m",'
_METRIC = re.compile(
    r'^\{"t":"m","k":("[^"\\\n]*(?:\\.[^"\\\n]*)*"),"v":([^,\n]+),"s":(-?\d+|null),"w":([^}\n]+)\}$',
    re.MULTILINE,
)
_OTHER = re.compile(r'^\{"t":"[^m"].*$', re.MULTILINE)  # the writer's compact JSON
_PROGRESS_LINE = re.compile(r'^\{"t":"[gr]",.*$', re.MULTILINE)

_BY_TAG_STEP_TIME = operator.itemgetter(0, 2, 3)  # MetricPoint's tag, step, timestamp


def _whole_lines(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return text[: text.rfind("\n") + 1]


def _json_lines(lines: list[str]) -> list[dict[str, Any]]:
    out = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every whole record of one process file, parsed as JSON (tests, tools)."""
    return _json_lines(_whole_lines(path).splitlines())


def _metric_points(text: str, source: str, tags: dict[str, str]) -> list[MetricPoint] | None:
    """The metric lines of ``text`` as points; None when one has an unexpected shape."""
    found = _METRIC.findall(text)
    expected = text.count("\n" + _METRIC_START) + text.startswith(_METRIC_START)
    if len(found) != expected:
        return None
    for key, _, _, _ in found:
        if key not in tags:
            tags[key] = json.loads(key) if "\\" in key else key[1:-1]
    return [
        MetricPoint(tags[k], float(v), None if s == "null" else int(s), float(w), source)
        for k, v, s, w in found
    ]


def _sort_points(points: list[MetricPoint]) -> None:
    """By tag, step (None first), time; a C key unless one tag mixes None and int steps."""
    try:
        points.sort(key=_BY_TAG_STEP_TIME)
    except TypeError:
        points.sort(key=lambda p: (p.tag, -1 if p.step is None else p.step, p.timestamp))


def read_run(root: Path, handle: str) -> RunData:
    """Everything recorded for ``handle`` under ``root`` (empty when nothing was)."""
    data = RunData()
    try:
        files = sorted(p for p in run_dir(root, handle).iterdir() if p.name.endswith(FILE_EXT))
    except OSError:
        return data
    checkpoints: dict[str, Checkpoint] = {}
    tags: dict[str, str] = {}
    for path in files:
        text = _whole_lines(path)
        others = _json_lines(_OTHER.findall(text))
        source = _merge_records(data, checkpoints, others)
        points = _metric_points(text, source, tags)
        if points is None:  # an odd metric line: the slow, tolerant path
            _merge_records(data, checkpoints, read_records(path), metrics=True)
        else:
            data.metrics += points
    _sort_points(data.metrics)
    data.progress.sort(key=lambda p: p.timestamp)
    data.checkpoints = sorted(
        checkpoints.values(), key=lambda c: (-1 if c.step is None else c.step, c.timestamp)
    )
    return data


def _merge_records(
    data: RunData,
    checkpoints: dict[str, Checkpoint],
    records: list[dict[str, Any]],
    metrics: bool = False,
) -> str:
    """Add one file's records to ``data``; returns the file's ``role/replica``."""
    source = "?/?"
    for rec in records:
        kind = rec.get("t")
        try:
            if kind == "r":
                source = f"{rec.get('role') or '?'}/{rec.get('replica') or '?'}"
                data.parent_run_id = data.parent_run_id or rec.get("parent")
            elif kind == "m" and metrics:
                data.metrics.append(
                    MetricPoint(rec["k"], float(rec["v"]), rec["s"], rec["w"], source)
                )
            elif kind == "g":
                point = MetricPoint(
                    rec["k"], rec["v"], None, rec["w"], source, "progress", rec["f"], rec["u"]
                )
                data.progress.append(point)
            elif kind == "a":
                _merge_artifact(data, checkpoints, rec, source)
            elif kind == "p":
                data.params.update(rec["d"])
            elif kind == "l":
                data.sources.append({"source": rec["src"], "kind": rec.get("kind")})
        except (KeyError, TypeError, ValueError):  # a newer or broken writer's record
            continue
    return source


def _merge_artifact(
    data: RunData, checkpoints: dict[str, Checkpoint], rec: dict[str, Any], source: str
) -> None:
    """A checkpoint's later record (e.g. marking it complete) updates the earlier one."""
    if rec.get("kind") != "checkpoint":
        keys = {"name": "n", "path": "p", "kind": "kind", "metadata": "md", "timestamp": "w"}
        data.artifacts.append({k: rec.get(v) for k, v in keys.items()} | {"source": source})
        return
    path = str(rec["p"])
    old = checkpoints.get(path)
    step = rec.get("s")
    checkpoints[path] = Checkpoint(
        path=path,
        step=step if step is not None or old is None else old.step,
        complete=bool(rec.get("c", True)),
        timestamp=float(rec["w"]),
        source=source,
        metadata={**(old.metadata if old else {}), **(rec.get("md") or {})},
    )


def read_progress(root: Path, handle: str) -> list[MetricPoint]:
    """The latest progress report per replica and operation, oldest first.

    Cheaper than :func:`read_run` (``wait`` polls it): only the start and
    progress lines are parsed.
    """
    latest: dict[tuple[str, str], MetricPoint] = {}
    try:
        files = sorted(p for p in run_dir(root, handle).iterdir() if p.name.endswith(FILE_EXT))
    except OSError:
        return []
    for path in files:
        data = RunData()
        _merge_records(data, {}, _json_lines(_PROGRESS_LINE.findall(_whole_lines(path))))
        for point in data.progress:
            latest[(point.source, point.tag)] = point
    return sorted(latest.values(), key=lambda p: p.timestamp)


__all__ = ["read_progress", "read_records", "read_run"]
