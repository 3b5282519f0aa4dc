"""The times ``--since`` and ``--until`` accept; moved to :mod:`torchrun_core.timespec`.

The dashboard reads the same forms, so the parser lives below both.
"""

from torchrun_core.timespec import TIME_FORMS, parse_time

__all__ = ["TIME_FORMS", "parse_time"]
