"""Read back what the ``file`` tracker recorded for a run, merged over its processes' files.

Each file is parsed with one ``json.loads`` of the whole file as an array
(a few times faster than a call per line); a file holding a damaged line
falls back to line by line, skipping what does not parse. A last line
without its newline is being written, or was cut by a crash: it is skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torchrun_core.tracking.file_layout import FILE_EXT, run_dir
from torchrun_core.tracking.records import Checkpoint, MetricPoint, RunData

_WANTED_FOR_PROGRESS = ('{"t":"g"', '{"t":"r"')  # the file backend writes compact JSON


def read_records(path: Path) -> list[dict[str, Any]]:
    """The whole records of one process file (JSON objects with a ``t`` key)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    text = text[: text.rfind("\n") + 1]
    try:
        records = json.loads("[" + text[:-1].replace("\n", ",") + "]") if text else []
    except ValueError:
        records = _records_line_by_line(text)
    return [r for r in records if isinstance(r, dict)]


def _records_line_by_line(text: str) -> list[Any]:
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def read_run(root: Path, handle: str) -> RunData:
    """Everything recorded for ``handle`` under ``root`` (empty when nothing was)."""
    data = RunData()
    directory = run_dir(root, handle)
    try:
        files = sorted(p for p in directory.iterdir() if p.name.endswith(FILE_EXT))
    except OSError:
        return data
    checkpoints: dict[str, Checkpoint] = {}
    for path in files:
        _merge_file(data, checkpoints, read_records(path))
    data.metrics.sort(key=lambda p: (p.tag, -1 if p.step is None else p.step, p.timestamp))
    data.progress.sort(key=lambda p: p.timestamp)
    data.checkpoints = sorted(
        checkpoints.values(), key=lambda c: (-1 if c.step is None else c.step, c.timestamp)
    )
    return data


def _merge_file(
    data: RunData, checkpoints: dict[str, Checkpoint], records: list[dict[str, Any]]
) -> None:
    source = "?/?"
    append_metric = data.metrics.append
    for rec in records:
        kind = rec.get("t")
        try:
            if kind == "m":
                append_metric(MetricPoint(rec["k"], rec["v"], rec["s"], rec["w"], source))
            elif kind == "r":
                source = f"{rec.get('role') or '?'}/{rec.get('replica') or '?'}"
                data.parent_run_id = data.parent_run_id or rec.get("parent")
            elif kind == "g":
                data.progress.append(
                    MetricPoint(
                        rec["k"], rec["v"], None, rec["w"], source, "progress", rec["f"], rec["u"]
                    )
                )
            elif kind == "a":
                _merge_artifact(data, checkpoints, rec, source)
            elif kind == "p":
                data.params.update(rec["d"])
            elif kind == "l":
                data.sources.append({"source": rec["src"], "kind": rec.get("kind")})
        except (KeyError, TypeError):  # a record of a newer or broken writer: skip it
            continue


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
    progress lines are parsed, found by their fixed prefix.
    """
    latest: dict[tuple[str, str], MetricPoint] = {}
    try:
        files = sorted(p for p in run_dir(root, handle).iterdir() if p.name.endswith(FILE_EXT))
    except OSError:
        return []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        lines = [ln for ln in text.splitlines() if ln.startswith(_WANTED_FOR_PROGRESS)]
        data = RunData()
        _merge_file(data, {}, _records_line_by_line("\n".join(lines)))
        for point in data.progress:
            latest[(point.source, point.tag)] = point
    return sorted(latest.values(), key=lambda p: p.timestamp)


__all__ = ["read_progress", "read_records", "read_run"]
