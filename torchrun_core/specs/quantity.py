"""Parse Kubernetes-style quantities for cpu and memory."""

from __future__ import annotations

import math
import re

_NUMBER = r"(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)"
_QUANTITY_RE = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<suffix>[A-Za-z]*)\s*$")

_MEMORY_FACTORS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_MIB = 2**20

# The strings each parser accepts, for the JSON Schema of app files.
CPU_PATTERN = rf"^\s*{_NUMBER}\s*m?\s*$"
MEMORY_PATTERN = rf"^\s*{_NUMBER}\s*(?:{'|'.join(k for k in _MEMORY_FACTORS if k)})\s*$"


def parse_cpu(value: object) -> float:
    """Cores from ``2``, ``1.5``, ``"2"`` or ``"500m"`` (millicores).

    Raises:
        ValueError: for anything else, or a negative amount.
    """
    if isinstance(value, bool):
        raise ValueError("cpu must be a number of cores or a quantity like '500m'")
    if isinstance(value, (int, float)):
        cores = float(value)
    elif isinstance(value, str):
        match = _QUANTITY_RE.match(value)
        if match is None or match["suffix"] not in ("", "m"):
            raise ValueError(f"cpu {value!r} is not a quantity like '2', '1.5' or '500m'")
        cores = float(match["num"]) / (1000 if match["suffix"] == "m" else 1)
    else:
        raise ValueError("cpu must be a number of cores or a quantity like '500m'")
    if not math.isfinite(cores) or cores < 0:
        raise ValueError("cpu must be a finite, non-negative number of cores")
    return cores


def parse_memory_mb(value: object) -> int:
    """MiB from a number (taken as MiB) or a quantity string (``"512Mi"``, ``"4Gi"``, ``"1G"``).

    A quantity string must carry a unit: ``"512"`` is rejected because
    Kubernetes would read it as bytes while a bare number here means MiB.

    Raises:
        ValueError: for anything else, or a negative amount.
    """
    if isinstance(value, bool):
        raise ValueError("memory must be a number of MiB or a quantity like '512Mi'")
    if isinstance(value, (int, float)):
        # inf would otherwise escape as OverflowError, not a field error.
        if not math.isfinite(value) or value < 0:
            raise ValueError("memory must be a finite, non-negative number of MiB")
        return math.ceil(value)
    if not isinstance(value, str):
        raise ValueError("memory must be a number of MiB or a quantity like '512Mi'")
    match = _QUANTITY_RE.match(value)
    if match is None or match["suffix"] not in _MEMORY_FACTORS:
        raise ValueError(f"memory {value!r} is not a quantity like '512Mi', '4Gi' or '1G'")
    if match["suffix"] == "":
        raise ValueError(
            f"memory {value!r} has no unit; write '{value}Mi', or the number {value} for MiB"
        )
    return math.ceil(float(match["num"]) * _MEMORY_FACTORS[match["suffix"]] / _MIB)
