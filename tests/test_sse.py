"""Tests for SSE framing: WHATWG parsing rules, chunk boundaries, and httpx_sse agreement."""

from __future__ import annotations

import time
from collections.abc import Iterable

import pytest
from httpx_sse._decoders import SSEDecoder as HttpxDecoder
from httpx_sse._decoders import SSELineDecoder
from hypothesis import given, settings
from hypothesis import strategies as st
from milkio_gen.runtime.sse import PING, ServerSentEvent, SSEDecoder, encode_event

from tests.fuzz.targets import check_sse, spec_parse

Ev = ServerSentEvent


def parse(*chunks: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = [e for chunk in chunks for e in decoder.feed(chunk)]
    return events


def test_encode_event_and_ping() -> None:
    assert encode_event(b'"hi"') == b'data:"hi"\n\n'
    assert encode_event(b"@{}", event_id="7") == b"id:7\ndata:@{}\n\n"
    stream = PING + encode_event(b"1") + PING + PING + encode_event(b"2", event_id="a") + PING
    decoder = SSEDecoder()
    assert decoder.feed(stream) == [Ev(b"1"), Ev(b"2", id="a")]
    assert not decoder.has_pending()


def test_multiline_data() -> None:
    assert parse(b"data: YHOO\ndata: +2\ndata: 10\n\n") == [Ev(b"YHOO\n+2\n10")]


def test_spec_example_with_comments_and_ids() -> None:
    stream = (
        b": test stream\n\n"
        b"data: first event\nid: 1\n\n"
        b"data:second event\nid\n\n"
        b"data:  third event\n\n"
    )
    assert parse(stream) == [
        Ev(b"first event", id="1"),
        Ev(b"second event", id=""),
        Ev(b" third event", id=""),
    ]


def test_field_without_colon_and_final_event_without_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data\n\ndata\ndata\n\ndata:\n") == [Ev(b""), Ev(b"\n")]
    assert decoder.has_pending()


def test_space_after_colon_is_optional() -> None:
    assert parse(b"data:test\n\ndata: test\n\n") == [Ev(b"test"), Ev(b"test")]


def test_event_retry_and_unknown_fields() -> None:
    decoder = SSEDecoder()
    stream = b"event: add\nretry: 1500\nfoo: bar\ndata: 73857293\n\nretry: 10a\ndata:x\n\n"
    assert decoder.feed(stream) == [Ev(b"73857293", event="add", retry=1500), Ev(b"x")]
    assert decoder.retry == 1500
    assert parse(b"retry:\ndata:x\n\nretry: \xd9\xa3\ndata:y\n\n") == [Ev(b"x"), Ev(b"y")]


def test_event_without_data_only_updates_id() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 5\nevent: foo\n\nretry: 9\n\n") == []
    assert decoder.last_event_id == "5"
    assert decoder.retry == 9
    assert decoder.feed(b"data:x\n\n") == [Ev(b"x", id="5")]
    assert decoder.feed(b"id: a\x00b\ndata:y\n\n") == [Ev(b"y", id="5")]
    assert decoder.feed(b"id\ndata:z\n\n") == [Ev(b"z", id="")]


@pytest.mark.parametrize("ending", [b"\r", b"\r\n"])
def test_cr_and_crlf(ending: bytes) -> None:
    stream = b"data:a\ndata:b\n\nid:1\ndata:c\n\n".replace(b"\n", ending)
    assert parse(stream) == [Ev(b"a\nb"), Ev(b"c", id="1")]


def test_crlf_split_across_chunks_is_one_line_ending() -> None:
    assert parse(b"data:a\r", b"\ndata:b\r", b"\n\r", b"\n") == [Ev(b"a\nb")]
    assert parse(b"data:a\r", b"\r") == [Ev(b"a")]
    assert parse(b"data:a\r", b"", b"\n", b"\r\n") == [Ev(b"a")]


def test_bom_is_skipped_once() -> None:
    bom = b"\xef\xbb\xbf"
    assert parse(bom + b"data:x\n\n") == [Ev(b"x")]
    assert parse(bom[:1], bom[1:2], bom[2:] + b"data:x\n\n") == [Ev(b"x")]
    # A second BOM is part of a field name, so the field is unknown and ignored.
    assert parse(bom + bom + b"data:x\n\ndata:y\n\n") == [Ev(b"y")]
    assert parse(b"\xef\xbbdata:x\n\ndata:y\n\n") == [Ev(b"y")]


def test_truncated_event_is_pending() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data:1\n\ndata:2") == [Ev(b"1")]
    assert decoder.has_pending()
    assert decoder.feed(b"\n\n") == [Ev(b"2")]
    assert not decoder.has_pending()
    decoder.feed(b"id:3\n: a comment")
    assert decoder.has_pending()
    only_comments = SSEDecoder()
    assert only_comments.feed(b": ping\n: pi") == []
    assert not only_comments.has_pending()


def test_large_event_in_small_chunks() -> None:
    payload = b"x" * 100_000
    stream = encode_event(payload)
    assert parse(*(stream[i : i + 7] for i in range(0, len(stream), 7))) == [Ev(payload)]


MIXED = (
    b"\xef\xbb\xbf: hello\r\n\r\n"
    b"data:1\n\n"
    b"id: 7\r\nevent: tick\rdata: a\r\ndata:b\n\n"
    b": ping\n"
    b"retry:30\r\rdata\n\n"
    b"data:\xe9\xa3\x8e\r\n\r\n"
    b"data:tail"
)
MIXED_EVENTS = [
    Ev(b"1"),
    Ev(b"a\nb", event="tick", id="7"),
    Ev(b"", id="7"),
    Ev(b"\xe9\xa3\x8e", id="7"),
]


def test_every_two_piece_split_gives_the_same_events() -> None:
    assert parse(MIXED) == MIXED_EVENTS
    for i in range(len(MIXED) + 1):
        assert parse(MIXED[:i], MIXED[i:]) == MIXED_EVENTS, i
    assert parse(*(MIXED[i : i + 1] for i in range(len(MIXED)))) == MIXED_EVENTS


# --- property test ---------------------------------------------------------------------

line_bytes = st.binary(max_size=20).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
text = st.text(max_size=10).filter(lambda s: not ({"\r", "\n", "\0"} & set(s)))
event_specs = st.tuples(
    st.lists(line_bytes, min_size=1, max_size=3),
    st.none() | text,
    st.none() | text,
    st.none() | st.integers(min_value=0, max_value=10**12),
    st.booleans(),  # a comment line in front
)


def encode_spec(
    data_lines: list[bytes], event: str | None, id_: str | None, retry: int | None, ping: bool
) -> list[bytes]:
    lines = [b": ping"] if ping else []
    if event is not None:
        lines.append(b"event: " + event.encode())
    if id_ is not None:
        lines.append(b"id: " + id_.encode())
    if retry is not None:
        lines.append(b"retry:" + str(retry).encode())
    # One space after the colon is always stripped, so only lines starting with one need it.
    lines += [b"data: " + d if d[:1] == b" " else b"data:" + d for d in data_lines]
    return [*lines, b""]


@settings(max_examples=300, deadline=None)
@given(
    specs=st.lists(event_specs, max_size=6),
    ending=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    bom=st.booleans(),
    data=st.data(),
)
def test_property_encoded_events_decode_in_any_chunking(
    specs: list[tuple[list[bytes], str | None, str | None, int | None, bool]],
    ending: bytes,
    bom: bool,
    data: st.DataObject,
) -> None:
    stream = b"\xef\xbb\xbf" if bom else b""
    expected: list[ServerSentEvent] = []
    last_id: str | None = None
    for lines, event, id_, retry, ping in specs:
        stream += b"".join(line + ending for line in encode_spec(lines, event, id_, retry, ping))
        last_id = last_id if id_ is None else id_
        expected.append(Ev(b"\n".join(lines), event or None, last_id, retry))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    decoder = SSEDecoder()
    assert [e for c in chunks for e in decoder.feed(c)] == expected
    assert not decoder.has_pending()


# --- cross-check with httpx_sse ----------------------------------------------------------


def httpx_parse(chunks: Iterable[str]) -> list[tuple[str, str, str, int | None]]:
    lines = SSELineDecoder()
    decoder = HttpxDecoder()
    out: list[tuple[str, str, str, int | None]] = []
    for chunk in chunks:
        for line in lines.decode(chunk):
            sse = decoder.decode(line)
            if sse is not None:
                out.append((sse.data, sse.event, sse.id, sse.retry))
    return out


# Inputs where the spec and httpx_sse agree: httpx_sse also dispatches events that have
# an id but no data, and accepts retry values like " 5" or "-1", so those are avoided.
CROSS_INPUTS = [
    "data: hello\n\n",
    "data:1\r\n\r\ndata:2\r\rdata:3\n\n",
    ": comment\nevent: greet\nid: 42\ndata: a\ndata:  b\n\ndata:c\n\n",
    "retry: 3000\ndata: x\n\nid\ndata:y\n\n",
    "data\ndata:\n\nfoo: bar\ndata:z:z\n\n",
    "id: 1\ndata:a\r\n\r\nid: 2\0\nevent:\ndata:b\n\ndata: partial",
]


@pytest.mark.parametrize("text", CROSS_INPUTS)
@pytest.mark.parametrize("size", [1, 2, 5, 1000])
def test_agrees_with_httpx_sse(text: str, size: int) -> None:
    chunks = [text[i : i + size] for i in range(0, len(text), size)]
    ours = [
        (e.data.decode(), e.event or "message", e.id or "", e.retry)
        for e in parse(*(c.encode() for c in chunks))
    ]
    assert ours == httpx_parse(chunks)
    assert ours


# --- hostile input: any bytes, against the spec's own algorithm --------------------------


# Lines of fields, known or not, with values of any bytes but line breaks; blank lines; and
# pieces that break the form: so that random streams hold events, ids and near misses.
field_values = st.binary(max_size=12).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
field_lines = st.builds(
    lambda name, colon, value: name + colon + value,
    st.sampled_from([b"data"] * 4 + [b"id", b"event", b"retry", b"dat", b"", b"\xef\xbb\xbfdata"]),
    st.sampled_from([b":", b": ", b"", b"::"]),
    field_values | st.sampled_from([b"12", b" 7", b"\0", b"x\0y", b"\xff\xfe"]),
)
sse_lines = st.one_of(
    field_lines, field_lines, st.just(b""), st.just(b": ping"), st.binary(max_size=6)
)
sse_streams = st.builds(
    lambda bom, lines, endings, tail: (
        bom + b"".join(line + endings[i % len(endings)] for i, line in enumerate(lines)) + tail
    ),
    st.sampled_from([b"", b"\xef\xbb\xbf", b"\xef\xbb"]),
    st.lists(sse_lines, max_size=30),
    st.lists(st.sampled_from([b"\n", b"\r", b"\r\n", b"\n\n"]), min_size=1, max_size=4),
    st.binary(max_size=8),
)


@settings(max_examples=500, deadline=None)
@given(stream=st.one_of(sse_streams, sse_streams, st.binary(max_size=200)), data=st.data())
def test_property_any_bytes_in_any_pieces_decode_as_the_spec_says(
    stream: bytes, data: st.DataObject
) -> None:
    check_sse(stream, data.draw(st.lists(st.integers(min_value=0), max_size=10)))


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "stream",
    [
        b"data:" + b"x" * 300_000 + b"\n\n",  # one long line
        b"data:x\n" * 50_000 + b"\n",  # one event of many lines
        b"data:x\r" * 50_000 + b"\r",  # the same with CR line endings
        b":" + b"p" * 300_000 + b"\n",  # one long comment
        b": ping\n" * 50_000,  # keep-alives only
        b"\r" * 300_000,  # empty lines only
        b"foo" * 100_000,  # a field without end
    ],
    ids=["line", "lines", "cr-lines", "comment", "pings", "crs", "endless-field"],
)
def test_a_long_stream_in_one_byte_pieces_takes_linear_time(stream: bytes) -> None:
    """Each piece must cost about its own size: a decoder that joins or scans its whole
    buffer per piece would take minutes here."""
    decoder = SSEDecoder()
    started = time.perf_counter()
    events = [event for i in range(len(stream)) for event in decoder.feed(stream[i : i + 1])]
    elapsed = time.perf_counter() - started
    assert events == spec_parse(stream)[0]
    assert elapsed < 10, elapsed
