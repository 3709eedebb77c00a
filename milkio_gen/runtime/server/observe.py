"""What an execute leaves behind: one structured log line, and attributes on its trace span.

The line goes to the `milkio_gen.execute` logger at INFO; its fields are also on the log
record (`execute_id`, `path`, `status`, `fail_code`, `stop_reason`, `duration_ms`,
`chunks`), for JSON formatters. With OpenTelemetry installed, the request's span (made by
Litestar's `OpenTelemetryPlugin`) gets the same fields as `milkio.*` attributes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from ...context import current_execute_id
from ...hooks import Outcome

__all__ = ["BatchingHandler", "ExecuteIdFilter", "SpanNotes", "log_execute", "logging_config"]

execute_logger = logging.getLogger("milkio_gen.execute")

if TYPE_CHECKING:
    from litestar.logging.config import LoggingConfig
    from litestar.types import Message, Send

LOG_LEVEL_VARIABLE = "MILKIO_LOG_LEVEL"
"""The environment variable that sets the level of `create_app`'s logging set-up."""

LOG_FORMAT = "%(levelname)s - %(asctime)s - %(name)s - %(execute_prefix)s%(message)s"
"""Litestar's own format, with each line of a call led by its execute id."""

try:
    from opentelemetry import trace as _trace
except ImportError:  # pragma: no cover - OpenTelemetry is optional
    _trace = None


def _fields(execute_id: str, path: str, outcome: Outcome) -> dict[str, Any]:
    return {
        "execute_id": execute_id,
        "path": path,
        "status": outcome.status,
        "fail_code": outcome.fail_code,
        "stop_reason": outcome.stop_reason,
        "duration_ms": round(outcome.duration * 1000, 3),
        "chunks": outcome.chunks,
    }


def log_execute(execute_id: str, path: str, outcome: Outcome) -> None:
    if execute_logger.isEnabledFor(logging.INFO):
        fields = _fields(execute_id, path, outcome)
        why = " ".join(filter(None, (outcome.fail_code, outcome.stop_reason)))
        execute_logger.info(
            "[%s] %s %s%s in %.1f ms, %d chunks",
            execute_id,
            path,
            outcome.status,
            f" ({why})" if why else "",
            outcome.duration * 1000,
            outcome.chunks,
            extra=fields,
        )


class SpanNotes:
    """The outcome of a call, noted on the trace span of its request once, just before the
    answer's last message (which ends the span), or when the call ends without one (a send
    that failed, a stream the server gave up on)."""

    __slots__ = ("_execute_id", "_noted", "_path", "_span")

    def __init__(self, span: Any, execute_id: str, path: str) -> None:
        self._span = span
        self._execute_id = execute_id
        self._path = path
        self._noted = False
        span.set_attribute("milkio.execute_id", execute_id)
        span.set_attribute("milkio.path", path)

    @classmethod
    def of_request(cls, execute_id: str, path: str) -> SpanNotes | None:
        """Notes for the running request's span; None when no span records it."""
        if _trace is None:
            return None
        span = _trace.get_current_span()
        return cls(span, execute_id, path) if span.is_recording() else None

    def wrap(self, send: Send, outcome: Callable[[], Outcome]) -> Send:
        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.note(outcome())
            await send(message)

        return send_and_note

    def note(self, outcome: Outcome) -> None:
        if self._noted or not self._span.is_recording():
            return
        self._noted = True
        fields = _fields(self._execute_id, self._path, outcome)
        for name, value in fields.items():
            if value is not None:
                self._span.set_attribute(f"milkio.{name}", value)
        if fields["fail_code"] == "INTERNAL_SERVER_ERROR" and _trace is not None:
            self._span.set_status(_trace.Status(_trace.StatusCode.ERROR, "INTERNAL_SERVER_ERROR"))


class ExecuteIdFilter(logging.Filter):
    """Gives every record the execute id of the call whose code wrote it, as
    `%(execute_id)s` (`-` outside a call) and `%(execute_prefix)s` (`[id] `, or nothing when
    the message names it already, as the context's logger and the server's lines do).

    Attach it to a handler that runs in the logging thread's caller (not behind a queue):
    the id is read from the running task's context.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, "execute_prefix"):
            return True  # seen by a handler before this one
        if hasattr(record, "execute_id"):
            record.execute_prefix = ""
            return True
        execute_id = current_execute_id.get()
        record.execute_id = execute_id or "-"
        record.execute_prefix = f"[{execute_id}] " if execute_id else ""
        return True


class BatchingHandler(logging.StreamHandler[TextIO]):
    """Formats each line in the thread that logs, and writes the lines in batches, from a
    thread of its own that wakes once a batch, `interval` seconds after the batch's first
    line. A handler that writes each line itself costs the event loop a write a line; one
    that hands each line to a thread (Litestar's queue listener) costs a thread switch a line,
    which, a line per call, halved the calls a server answered. A stalled stream (a full
    pipe) stalls only the writer; past `limit` lines waiting, new ones are dropped, and
    counted in a line of their own. Once closed, it writes each line at once."""

    def __init__(
        self, stream: TextIO | None = None, interval: float = 0.02, limit: int = 10_000
    ) -> None:
        super().__init__(stream)
        self._interval = interval
        self._limit = limit
        self._pending: list[str] = []
        self._dropped = 0
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._writer: threading.Thread | None = None
        self._closing = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        if self._closing:
            # Closed but still attached, as a logging set-up made later (uvicorn's) leaves
            # the handlers it does not know: each line written at once, as a plain handler.
            with contextlib.suppress(Exception):
                self.stream.write(line)
                self.stream.flush()
            return
        with self._guard:
            if len(self._pending) >= self._limit:
                self._dropped += 1
                return
            self._pending.append(line)
            first = len(self._pending) == 1
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_batches, name="milkio-log-writer", daemon=True
                )
                self._writer.start()
        if first:
            self._wake.set()

    def flush(self) -> None:
        """Write what waits now (logging's shutdown calls it, at exit)."""
        with self._guard:
            lines, self._pending = self._pending, []
            dropped, self._dropped = self._dropped, 0
        if dropped:
            lines.append(f"{dropped} log lines were dropped: the log's stream was stalled\n")
        if lines:
            with contextlib.suppress(Exception):
                self.stream.write("".join(lines))
        super().flush()

    def close(self) -> None:
        """Write what waits, and end the writer (logging's set-up closes a handler it
        replaces; so does its shutdown)."""
        self._closing = True
        self._wake.set()
        writer = self._writer
        if writer is not None and writer is not threading.current_thread():
            writer.join(1)
        self.flush()
        super().close()

    def _write_batches(self) -> None:
        while not self._closing:
            self._wake.wait()
            if not self._closing:
                time.sleep(self._interval)  # the batch gathers meanwhile
            self._wake.clear()
            self.flush()


def logging_config() -> LoggingConfig:
    """Litestar's logging set-up, with `ExecuteIdFilter` on its handler, the execute id leading
    every line written during a call, and lines written in batches (`BatchingHandler`):
    `create_app`'s default. Its level is `MILKIO_LOG_LEVEL` (`info` by default; `warning`
    leaves the execute lines out), which `milkio-gen serve --log-level` sets."""
    from litestar.logging.config import LoggingConfig

    level = os.environ.get(LOG_LEVEL_VARIABLE, "info").upper()
    handler = {"()": BatchingHandler, "formatter": "standard", "filters": ["execute_id"]}
    # Under the name of Litestar's own queue handler, which is then not made: it would start
    # a listener thread every time an app is made.
    return LoggingConfig(
        filters={"execute_id": {"()": ExecuteIdFilter}},
        formatters={"standard": {"format": LOG_FORMAT}},
        handlers={"queue_listener": handler},
        root={"handlers": ["queue_listener"], "level": "DEBUG" if level == "TRACE" else level},
    )
