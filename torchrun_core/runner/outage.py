"""How long ``wait`` rides out an engine it cannot reach, and how often it asks again.

A controller restart (slurmctld, kube-apiserver) makes an engine unreachable
for seconds to minutes while the app itself runs on. ``wait`` treats
:class:`~torchrun_core.errors.SchedulerUnavailableError` as such an outage:
it asks again with exponential backoff until the engine answers, and gives
up with that error only after ``limit_s`` seconds of continuous failure.
"""

from __future__ import annotations

import time

from torchrun_core.errors import SchedulerUnavailableError

# Long enough for a controller restart or failover, short enough that a
# scheduler that is really gone does not hold a script for ever.
OUTAGE_LIMIT_S = 300.0
FIRST_RETRY_S = 0.5
MAX_RETRY_S = 10.0


class OutageBackoff:
    """Bounded retries with exponential backoff across one continuous outage."""

    def __init__(self, limit_s: float = OUTAGE_LIMIT_S) -> None:
        self.limit_s = limit_s
        self._since: float | None = None
        self._delay = FIRST_RETRY_S

    @property
    def in_outage(self) -> bool:
        return self._since is not None

    def failed(self, err: SchedulerUnavailableError) -> float:
        """Note a failed attempt; the seconds to sleep before the next.

        Raises:
            SchedulerUnavailableError: ``err``, once the outage has lasted
                longer than ``limit_s``.
        """
        now = time.monotonic()
        if self._since is None:
            self._since = now
        elif now - self._since >= self.limit_s:
            err.hint = err.hint or f"the scheduler did not answer for {self.limit_s:g} s"
            raise err
        delay = self._delay
        self._delay = min(self._delay * 2, MAX_RETRY_S)
        return delay

    def succeeded(self) -> None:
        """The engine answered: the next failure starts a new outage."""
        self._since = None
        self._delay = FIRST_RETRY_S
