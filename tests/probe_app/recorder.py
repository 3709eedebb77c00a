"""Where probe actions note what happened, for tests in the same process to read."""

import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Record:
    ended: threading.Event = field(default_factory=threading.Event)
    ended_at: float | None = None
    ended_at_wall_ms: float | None = None
    chunks: int = 0
    how: str = ""
    context: Any = None
    """The action's context, to read its `stop_reason` once it ended."""


_records: dict[str, Record] = {}
_lock = threading.Lock()


def record(key: str) -> Record:
    with _lock:
        return _records.setdefault(key, Record())


def ended(key: str, how: str) -> None:
    entry = record(key)
    entry.ended_at = time.monotonic()
    entry.ended_at_wall_ms = time.time() * 1000
    entry.how = how
    entry.ended.set()
