"""SSE framing for stream calls: the bytes our server writes and a fast parser for our clients."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["PING", "SSEDecoder", "ServerSentEvent", "encode_event"]

# A keep-alive comment. Never follow it with a blank line of its own: the original
# TypeScript client parses every blank-line-terminated block as an event and dies on
# an empty one (see the wire protocol doc).
PING = b": ping\n"

_BOM = b"\xef\xbb\xbf"


def encode_event(data: bytes, *, event_id: str | None = None) -> bytes:
    """Frame one event. `data` must hold no line break; compact JSON never does.

    The payload goes right after ``data:`` with no space, as the original server
    writes it; it must not start with a space, which a decoder would strip.
    """
    if event_id is None:
        return b"data:" + data + b"\n\n"
    return b"id:" + event_id.encode() + b"\ndata:" + data + b"\n\n"


def _drop_inert_lines(rest: bytes) -> bytes:
    # Leading comment and blank lines cannot affect the next event; dropping them keeps
    # a stream of keep-alive pings from piling up in the buffer.
    while rest and (rest[0] == 58 or rest[0] == 10):
        nl = rest.find(b"\n")
        if nl < 0:
            break
        rest = rest[nl + 1 :]
    return rest


@dataclass(slots=True)
class ServerSentEvent:
    """One dispatched event; `id` is the decoder's last event ID when it was dispatched.
    Not frozen: a frozen dataclass costs three times as much to make, once per chunk."""

    data: bytes
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    own_id: bool = field(default=False, compare=False)
    """Whether the event had an `id:` line of its own, rather than keeping an earlier one."""


class SSEDecoder:
    """Incremental WHATWG event-stream parser over bytes.

    Line endings are normalized to ``\\n`` as chunks arrive (a CR cannot occur inside a
    line, so this is exact), which lets complete events be found with `bytes.find`.
    """

    __slots__ = ("_bom_checked", "_parts", "_skip_lf", "last_event_id", "retry")

    last_event_id: str | None
    retry: int | None  # the latest valid retry field, dispatched or not
    _parts: list[bytes]  # the unparsed tail, part of an event, in the chunks it came in
    _skip_lf: bool  # the previous chunk ended in CR, so a leading LF is its pair
    _bom_checked: bool

    def __init__(self) -> None:
        self.last_event_id = None
        self.retry = None
        self._parts = []
        self._skip_lf = False
        self._bom_checked = False

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Take the next bytes of the stream; return the events they complete, in order."""
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == 10:
                chunk = chunk[1:]
                if not chunk:
                    return []
        if not self._bom_checked:
            chunk = b"".join((*self._parts, chunk))
            self._parts = []
            if len(chunk) < 3 and _BOM.startswith(chunk):
                self._parts = [chunk]  # the BOM may still be arriving
                return []
            self._bom_checked = True
            if chunk.startswith(_BOM):
                chunk = chunk[3:]
        if b"\r" in chunk:
            self._skip_lf = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        parts = self._parts
        if parts:
            parts.append(chunk)
            # Nothing completes without a blank line: wait, and join a long event only once.
            if b"\n\n" not in chunk and not (parts[-2][-1:] == b"\n" and chunk[:1] == b"\n"):
                return []
            buf = b"".join(parts)
        else:
            buf = chunk
        events: list[ServerSentEvent] = []
        pos = 0
        size = len(buf)
        while True:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                break
            # Fast path: the whole event is one `data:` line.
            if nl + 1 < size and buf[nl + 1] == 10 and buf.startswith(b"data:", pos):
                start = pos + 5
                if start < nl and buf[start] == 32:
                    start += 1
                events.append(ServerSentEvent(buf[start:nl], None, self.last_event_id))
                pos = nl + 2
                continue
            end = buf.find(b"\n\n", pos)
            if end < 0:
                break
            if end > pos:
                self._parse_block(buf[pos:end], events)
            pos = end + 2
        rest = _drop_inert_lines(buf[pos:]) if pos < size else b""
        self._parts = [rest] if rest else []
        return events

    def _parse_block(self, block: bytes, events: list[ServerSentEvent]) -> None:
        data: list[bytes] = []
        event: str | None = None
        retry: int | None = None
        own_id = False
        for line in block.split(b"\n"):
            if not line or line[0] == 58:  # blank (only leading) or ":" comment
                continue
            field, colon, value = line.partition(b":")
            if colon and value[:1] == b" ":
                value = value[1:]
            if field == b"data":
                data.append(value)
            elif field == b"event":
                event = value.decode(errors="replace") or None
            elif field == b"id":
                if b"\0" not in value:
                    self.last_event_id = value.decode(errors="replace")
                    own_id = True
            elif field == b"retry" and value.isdigit():  # bytes.isdigit is ASCII-only
                retry = self.retry = int(value)
        if data:
            events.append(
                ServerSentEvent(b"\n".join(data), event, self.last_event_id, retry, own_id)
            )

    def has_pending(self) -> bool:
        """Whether the stream so far ends inside an event (fields or a partial line)."""
        rest = b"".join(self._parts)
        return any(line and line[0] != 58 for line in rest.split(b"\n"))
