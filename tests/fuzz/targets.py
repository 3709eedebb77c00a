"""What must hold for any input to the decoders, checked by the property tests and the fuzzers
alike: `Tson.loads` gives a value or a `ValidationError` that says why, the same with TSON in
the document or without; `SSEDecoder` gives the events the WHATWG algorithm gives, however the
bytes are cut."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from milkio_gen.runtime.sse import ServerSentEvent, SSEDecoder
from milkio_gen.runtime.tson import FEW_ERRORS, Tson
from pydantic import BaseModel, ValidationError

__all__ = ["CODECS", "check_sse", "check_tson", "spec_parse", "tson_outcome"]


class Leaf(BaseModel):
    when: datetime | None = None
    count: int = 0
    ratio: float = 0.0
    tags: list[str] = []
    anything: Any = None


class Tree(BaseModel):
    """Recursive, with TSON at every level: the walk in Python goes as deep as the document."""

    when: datetime | None = None
    big: int = 0
    children: list[Tree] = []
    leaf: Leaf | None = None


MODELS: list[Tson[Any]] = [Tson(Leaf), Tson(Tree)]
"""Codecs of models, which ignore a key they do not have."""
CODECS: list[Tson[Any]] = [
    *MODELS,
    *(Tson(type_) for type_ in (Any, int, datetime, list[int], dict[str, Leaf])),
]


def tson_outcome(codec: Tson[Any], data: bytes) -> tuple[str, Any]:
    """What `loads` made of `data`: a value, or the type and place of its first error.
    Anything raised but a `ValidationError` propagates."""
    try:
        value = codec.loads(data)
    except ValidationError as error:
        failed = error
    else:
        data.decode()  # only UTF-8 is JSON: anything else must have been refused
        return "value", value
    errors = failed.errors()
    assert len(errors) <= FEW_ERRORS, len(errors)
    if errors[0]["type"].startswith("json_"):
        assert [error["loc"] for error in errors] == [()], errors  # the document, alone
    return errors[0]["type"], errors[0]["loc"]


JSON_SPACE = b" \t\n\r"
"""What JSON takes for white space (`bytes.strip` would take form feeds too)."""


def with_ignored_tson(document: bytes) -> bytes:
    """`document` with one more key, holding TSON text no model here reads; as it is when it
    is not an object."""
    stripped = document.lstrip(JSON_SPACE)
    if not stripped.startswith(b"{"):
        return document
    rest = stripped[1:]
    separator = b"" if rest.lstrip(JSON_SPACE).startswith(b"}") else b","
    return b'{"\xc2\xa7": "t!x"' + separator + rest


def check_tson(data: bytes) -> None:
    """Every codec reads `data` as a value or a validation error; a model reads it alike
    with TSON in it (which takes a walk in Python between two parses) or not (which goes to
    pydantic at once)."""
    for codec in CODECS:
        tson_outcome(codec, data)
    marked = with_ignored_tson(data)
    if marked != data:
        for codec in MODELS:
            assert tson_outcome(codec, marked) == tson_outcome(codec, data), (marked, data)


def spec_parse(stream: bytes) -> tuple[list[ServerSentEvent], bool]:
    """The WHATWG algorithm, line by line over the whole stream at once: the events, and
    whether the stream ends inside an event (a field, or a partial line that is not a
    comment)."""
    stream = stream.removeprefix(b"\xef\xbb\xbf")
    lines = stream.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    tail = lines.pop()  # not ended by a line break: not processed yet
    events: list[ServerSentEvent] = []
    last_id: str | None = None
    data: list[bytes] = []
    event: str | None = None
    retry: int | None = None
    fields = False
    for line in lines:
        if not line:
            if data:
                events.append(ServerSentEvent(b"\n".join(data), event, last_id, retry))
            data, event, retry, fields = [], None, None, False
            continue
        if line.startswith(b":"):
            continue
        fields = True
        name, colon, value = line.partition(b":")
        if colon and value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            data.append(value)
        elif name == b"event":
            event = value.decode(errors="replace") or None
        elif name == b"id" and b"\0" not in value:
            last_id = value.decode(errors="replace")
        elif name == b"retry" and value and all(48 <= byte <= 57 for byte in value):
            retry = int(value)
    return events, fields or (tail != b"" and not tail.startswith(b":"))


def check_sse(stream: bytes, cuts: list[int]) -> None:
    """`stream`, cut at `cuts` (taken modulo its length), decodes as the spec says."""
    points = sorted(cut % (len(stream) + 1) for cut in cuts)
    pieces = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    decoder = SSEDecoder()
    events = [event for piece in pieces for event in decoder.feed(piece)]
    expected, pending = spec_parse(stream)
    assert events == expected, (events, expected)
    assert decoder.has_pending() == pending
    if stream and not stream.endswith(b"\r"):
        # What the decoder kept is what the spec keeps: here, one LF more ends the same.
        assert decoder.feed(b"\n") == spec_parse(stream + b"\n")[0][len(expected) :]
