"""Retries: when and how long to wait before a call is made again."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

__all__ = ["RETRY_STATUSES", "Retry", "retry_after"]

RETRY_STATUSES = frozenset({502, 503, 504})
"""Answers of a proxy or a server that is not ready: the call never reached an action."""


@dataclass(frozen=True, slots=True)
class Retry:
    """How a call is made again when it may succeed then.

    Retried: a connection that could not be made, a 502/503/504, and the fails the app marks
    retryable (`STREAM_DEADLINE`, `SERVER_SHUTTING_DOWN`, ...). A stream that already gave
    chunks is retried only when they were `Tracked`: it resumes after the last one, so no
    chunk is lost or repeated. Business fails are never retried.

    Args:
        attempts: tries in a row that receive nothing, the first included; a stream that
            resumed and received chunks starts counting again.
        backoff: seconds before the second try; each next wait doubles, up to `max_backoff`.
        jitter: wait a random part of that (full jitter), so clients do not come back at once.
    """

    attempts: int = 4
    backoff: float = 0.2
    max_backoff: float = 10.0
    jitter: bool = True

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number `attempt` (0 for the first)."""
        ceiling = min(self.max_backoff, self.backoff * 2**attempt)
        delay = random.uniform(0, ceiling) if self.jitter else ceiling
        return max(delay, retry_after or 0.0)


def retry_after(response: httpx.Response) -> float | None:
    """The `Retry-After` of an answer, in seconds: a number, or an HTTP date."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
