"""Metric points as chart series: one per tag and source, in step order, downsampled.

A browser draws a few thousand points as fast as ten; 100k points would
only cost transfer and memory. Downsampling keeps, in each bucket of
consecutive points, the lowest and the highest value, so spikes (a loss
blowing up at one step) survive where averaging would hide them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torchrun_core.tracking.records import MetricPoint


def min_max_indices(values: Sequence[float], max_points: int) -> list[int]:
    """Indices of at most ``max_points`` values: each bucket's min and max, in order.

    The first and the last point are always kept.
    """
    n = len(values)
    if n <= max_points:
        return list(range(n))
    buckets = max(1, (max_points - 2) // 2)
    kept = [0]
    for b in range(buckets):
        start = 1 + (n - 2) * b // buckets
        stop = 1 + (n - 2) * (b + 1) // buckets
        if start >= stop:
            continue
        chunk = values[start:stop]
        low = start + min(range(len(chunk)), key=chunk.__getitem__)
        high = start + max(range(len(chunk)), key=chunk.__getitem__)
        kept.extend(sorted({low, high}))
    kept.append(n - 1)
    return kept


def metric_series(points: Sequence[MetricPoint], max_points: int) -> list[dict[str, Any]]:
    """``[{"tag", "series": [{"source", "steps", "values", "count", "downsampled"}]}]``.

    Points without a step are placed by their order. Tags are sorted by name,
    sources too; a point that is not a finite number is dropped (JSON has none).
    """
    grouped: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for p in points:
        if p.kind != "metric" or not math.isfinite(p.value):
            continue
        series = grouped.setdefault(p.tag, {}).setdefault(p.source, [])
        series.append((len(series) if p.step is None else p.step, p.value))
    out = []
    for tag in sorted(grouped):
        tag_series = []
        for source in sorted(grouped[tag]):
            pairs = sorted(grouped[tag][source], key=lambda pair: pair[0])
            values = [v for _, v in pairs]
            kept = min_max_indices(values, max_points)
            tag_series.append(
                {
                    "source": source,
                    "steps": [pairs[i][0] for i in kept],
                    "values": [values[i] for i in kept],
                    "count": len(pairs),
                    "downsampled": len(kept) < len(pairs),
                }
            )
        out.append({"tag": tag, "series": tag_series})
    return out
