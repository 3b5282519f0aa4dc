"""Retry policies."""

from __future__ import annotations

from enum import Enum


class RetryPolicy(str, Enum):
    """What restarts when a replica fails and retries remain.

    REPLICA restarts only the failed replica; ROLE restarts every replica of
    its role; APPLICATION restarts every replica of every role.
    """

    REPLICA = "REPLICA"
    ROLE = "ROLE"
    APPLICATION = "APPLICATION"

    def __str__(self) -> str:
        return self.value
