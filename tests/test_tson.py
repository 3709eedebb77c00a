"""TSON by type: the original library's vectors, and round trips of every kind of value."""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, cast
from uuid import UUID

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from milkio_gen.runtime.tson import FEW_ERRORS, MAX_DEPTH, MAX_DIGITS, MAX_SAFE_INTEGER, Tson
from pydantic import AnyUrl, Base64Bytes, BaseModel, Field, JsonValue, ValidationError
from pydantic_core import PydanticSerializationError
from typing_extensions import TypedDict

from tests.fuzz.targets import Leaf, check_tson

VECTORS: dict[str, dict[str, Any]] = {
    vector["name"]: vector
    for vector in json.loads((Path(__file__).parent / "data" / "tson-vectors.json").read_text())[
        "vectors"
    ]
}


def vector(name: str) -> bytes:
    return VECTORS[name]["tson"].encode()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("date with milliseconds", datetime(2026, 11, 24, 10, 0, 0, 123000, tzinfo=UTC)),
        ("date at whole second", datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)),
        ("date before 1970", datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC)),
    ],
)
def test_dates_the_original_writes_are_read_as_datetimes(name: str, expected: datetime) -> None:
    assert Tson(datetime).loads(vector(name)) == expected


def test_a_date_beyond_year_9999_fails_validation_clearly() -> None:
    with pytest.raises(ValidationError):
        Tson(datetime).loads(vector("date after year 9999"))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bigint beyond 2**53", 2**60 + 1),
        ("negative bigint", -(2**64)),
        ("small bigint", 5),
        ("number beyond 2**53 (not a bigint: precision already lost in JS)", 1152921504606847000),
    ],
)
def test_bigints_and_numbers_are_read_as_ints(name: str, expected: int) -> None:
    assert Tson(int).loads(vector(name)) == expected


def test_numbers_the_original_writes_plainly() -> None:
    assert Tson(float).loads(vector("number 1e21")) == 1e21
    assert Tson(float).loads(vector("number 0.1")) == 0.1


def test_urls_and_byte_arrays_are_read_as_their_text() -> None:
    assert str(Tson(AnyUrl).loads(vector("URL"))) == "https://example.com/a?b=1"
    assert Tson(bytes).loads(vector("Uint8Array of UTF-8 text")) == "héllo".encode()


def test_a_string_field_keeps_text_that_looks_like_tson() -> None:
    """By type, not by text: the original's client would have made this a bigint."""
    assert Tson(str).loads(vector("string that looks like TSON")) == "t!bigint:5"
    assert Tson(str).dumps("t!Date:not a date") == b'"t!Date:not a date"'


class Deep(BaseModel):
    url: str


class Nested(BaseModel):
    when: datetime
    ids: list[int]
    deep: Deep
    n: None
    s: str


def test_nested_vector_by_type() -> None:
    nested = Tson(Nested).loads(vector("nested object"))
    assert nested.when == datetime(1970, 1, 1, tzinfo=UTC)
    assert nested.ids == [1, 2]
    assert nested.deep.url == "t!URL:https://x.y/", "a plain str field keeps the prefix"


def test_mixed_array_vector_by_type() -> None:
    mixed = tuple[datetime, int, str, int, bool, None]
    assert Tson(mixed).loads(vector("array of mixed values")) == (
        datetime(1970, 1, 1, tzinfo=UTC), 3, "a", 1, True, None,
    )  # fmt: skip


def test_written_dates_and_bigints_are_what_the_original_reads() -> None:
    assert Tson(datetime).dumps(datetime(2026, 11, 24, 10, 0, 0, 123000, tzinfo=UTC)) == (
        b'"t!Date:2026-11-24T10:00:00.123000Z"'
    )
    assert Tson(datetime).dumps(
        datetime(2026, 11, 24, 12, tzinfo=timezone(timedelta(hours=2)))
    ) == (b'"t!Date:2026-11-24T12:00:00+02:00"')
    assert Tson(int).dumps(2**60 + 1) == vector("bigint beyond 2**53")
    assert Tson(int).dumps(-(2**64)) == vector("negative bigint")
    assert Tson(int).dumps(MAX_SAFE_INTEGER) == str(MAX_SAFE_INTEGER).encode()
    assert Tson(int).dumps(MAX_SAFE_INTEGER + 1) == f'"t!bigint:{MAX_SAFE_INTEGER + 1}"'.encode()
    assert Tson(int).dumps(0) == b"0", "the original cannot write a zero bigint; a plain 0 it reads"


def test_bounded_ints_take_the_plain_path() -> None:
    small = Annotated[int, Field(ge=0, le=100)]
    assert Tson(list[small]).dumps([1, 2]) == b"[1,2]"


class Color(Enum):
    RED = "red"
    BLUE = "blue"


class Token(BaseModel):
    type: Literal["token"] = "token"
    at: datetime


class Usage(BaseModel):
    type: Literal["usage"] = "usage"
    total: int


class Tree(BaseModel):
    name: str
    born: datetime
    children: list[Tree] = []


class Shape(TypedDict, total=False):
    big: int
    when: datetime


class Everything(BaseModel):
    when: datetime
    naive: datetime
    day: date
    span: timedelta
    uid: UUID
    money: Decimal
    color: Color
    tags: set[str]
    pair: tuple[int, datetime]
    rest: tuple[int, ...]
    mapping: dict[str, int]
    maybe: datetime | None
    either: int | str
    event: Annotated[Token | Usage, Field(discriminator="type")]
    tree: Tree
    shape: Shape
    text: bytes
    binary: Base64Bytes


EVERYTHING = Everything(
    when=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=-5))),
    naive=datetime(2026, 1, 2, 3, 4, 5),
    day=date(2026, 1, 2),
    span=timedelta(days=1, seconds=3),
    uid=UUID("12345678-1234-5678-1234-567812345678"),
    money=Decimal("10.25"),
    color=Color.BLUE,
    tags={"a", "b"},
    pair=(2**60, datetime(2000, 1, 1, tzinfo=UTC)),
    rest=(1, 2**70, -(2**54)),
    mapping={"x": 2**63},
    maybe=None,
    either=2**55,
    event=Usage(total=2**61),
    tree=Tree(
        name="a", born=datetime(2001, 1, 1), children=[Tree(name="b", born=datetime(2002, 2, 2))]
    ),
    shape={"big": 2**62, "when": datetime(2003, 3, 3, tzinfo=UTC)},
    text="héllo".encode(),
    binary=b"AP+A",  # Base64Bytes takes base64 in: these are the bytes 00 ff 80
)


def test_every_kind_of_value_round_trips() -> None:
    codec = Tson(Everything)
    wire = codec.dumps(EVERYTHING)
    assert codec.loads(wire) == EVERYTHING
    data = orjson.loads(wire)
    assert data["pair"] == [f"t!bigint:{2**60}", "t!Date:2000-01-01T00:00:00Z"]
    assert data["rest"] == [1, f"t!bigint:{2**70}", f"t!bigint:{-(2**54)}"]
    assert data["either"] == f"t!bigint:{2**55}"
    assert data["event"] == {"type": "usage", "total": f"t!bigint:{2**61}"}
    assert data["tree"]["children"][0]["born"] == "t!Date:2002-02-02T00:00:00"
    assert data["text"] == "héllo"
    assert data["money"] == "10.25"


def test_discriminated_union_chunks_round_trip() -> None:
    codec = Tson(list[Annotated[Token | Usage, Field(discriminator="type")]])
    values = [Token(at=datetime(2020, 1, 1, tzinfo=UTC)), Usage(total=2**60)]
    assert codec.loads(codec.dumps(values)) == values


def test_a_value_not_of_the_type_is_refused_when_checked() -> None:
    with pytest.raises(Exception, match="Expected `int`"):
        Tson(int).dumps("x")  # type: ignore[arg-type]
    assert Tson(int).dumps("x", check=False) == b'"x"'  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.datetimes(timezones=st.just(UTC)))
def test_aware_datetimes_round_trip(value: datetime) -> None:
    assert Tson(datetime).loads(Tson(datetime).dumps(value)) == value


@settings(max_examples=200, deadline=None)
@given(st.datetimes())
def test_naive_datetimes_round_trip(value: datetime) -> None:
    assert Tson(datetime).loads(Tson(datetime).dumps(value)) == value


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(2**200), max_value=2**200))
def test_ints_of_any_size_round_trip(value: int) -> None:
    wire = Tson(int).dumps(value)
    assert Tson(int).loads(wire) == value
    assert wire.startswith(b'"t!bigint:') == (abs(value) > MAX_SAFE_INTEGER)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(), st.lists(st.integers(min_value=-(2**80), max_value=2**80))))
def test_nested_int_containers_round_trip(value: dict[str, list[int]]) -> None:
    codec = Tson(dict[str, list[int]])
    assert codec.loads(codec.dumps(value)) == value


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_any_string_stays_itself(value: str) -> None:
    assert Tson(str).loads(Tson(str).dumps(value)) == value


@pytest.mark.parametrize("number", [-(2**63) - 1, 2**64, 10**30, -(10**30), 2**63 - 1])
def test_integers_beyond_64_bits_stay_exact_in_untyped_places(number: int) -> None:
    """orjson reads them as floats and cannot write them: the client's envelope and the
    codecs of `Any` keep every digit."""
    from milkio_gen.runtime import exact_json
    from milkio_gen.runtime.client.protocol import load_envelope

    codec: Tson[Any] = Tson(Any)
    data = codec.dumps({"n": [number]})
    assert data == b'{"n":[' + str(number).encode() + b"]}"
    assert codec.loads(data) == {"n": [number]}
    envelope = load_envelope(b'{"success":true,"data":' + data + b"}")
    assert envelope is not None
    assert envelope["data"] == {"n": [number]}
    assert exact_json.loads(exact_json.dumps(envelope)) == envelope


class _Token(TypedDict):
    index: int
    text: str
    ratio: float
    counts: list[int]


@settings(max_examples=300, deadline=None)
@given(
    st.builds(
        _Token,
        index=st.integers(min_value=-(2**70), max_value=2**70),
        text=st.text(),
        ratio=st.floats(allow_nan=False, allow_infinity=False),
        counts=st.lists(st.integers(min_value=-(2**60), max_value=2**60), max_size=3),
    )
)
def test_a_type_with_ints_is_written_as_the_full_walk_writes_it(value: _Token) -> None:
    """Such types are written by pydantic at once unless a big integer may be in them:
    the bytes are the same either way."""
    from milkio_gen.runtime import exact_json

    codec = Tson(_Token)
    walk: Any = codec._sending()  # pyright: ignore[reportPrivateUsage]
    plain = codec.adapter.dump_python(value, mode="json", by_alias=True)
    with fast_path():
        assert codec.dumps(value) == exact_json.dumps(walk(plain))
    assert codec.loads(codec.dumps(value)) == value


@contextlib.contextmanager
def fast_path() -> Iterator[None]:
    """The codec's warnings filter first again, as outside of pytest (which puts its own
    first): the fast path is taken."""
    from milkio_gen.runtime import tson

    with warnings.catch_warnings():
        warnings.filters.insert(0, tson._CHECK_FILTER)  # pyright: ignore[reportPrivateUsage]
        warnings._filters_mutated()  # type: ignore[attr-defined]  # pyright: ignore
        yield


class _User(BaseModel):
    id: int


class _Message(BaseModel):
    author: _User
    readers: list[_User]


def test_a_model_of_models_with_ints_takes_the_fast_path() -> None:
    codec = Tson(_Message)
    message = _Message(author=_User(id=1), readers=[_User(id=2**60)])
    with fast_path():
        assert codec.dumps(message) == (
            b'{"author":{"id":1},"readers":[{"id":"t!bigint:1152921504606846976"}]}'
        )
        assert codec._send_only_ints  # pyright: ignore[reportPrivateUsage]
        with pytest.raises(PydanticSerializationError):
            codec.dumps(_Message.model_construct(author={"id": "x"}, readers=[]))


def test_a_value_not_of_its_type_is_refused_whatever_the_warnings_filters() -> None:
    """The check rests on a warnings filter of the codec's own: it holds in a plain process
    (not only under pytest, which makes every warning an error), leaves the warnings raised
    elsewhere to the app's own filters, and holds when those come first."""
    import subprocess
    import sys

    script = """
import warnings
from typing_extensions import TypedDict
from pydantic import TypeAdapter
from milkio_gen.runtime.tson import Tson

class Token(TypedDict):
    index: int

from pydantic_core import PydanticSerializationError

def refused():
    try:
        Tson(Token).dumps({"index": "x"})
    except PydanticSerializationError:
        return "refused"
    return "sent"

print(refused())
warnings.simplefilter("ignore")  # the filters of an app of its own, put first
TypeAdapter(Token).dump_json({"index": "x"})
print("a warning elsewhere is the app's")
print(refused())
"""
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert completed.stdout.split("\n")[:3] == [
        "refused",
        "a warning elsewhere is the app's",
        "refused",
    ]


@pytest.mark.parametrize(
    "number",
    [2**53 - 1, 2**53, -(2**53 - 1), -(2**53), 10**15, 1_764_000_000_000_000, 10**16, 10**17],
)
def test_integers_about_2_to_the_53_are_written_by_their_size(number: int) -> None:
    """16-digit integers (a timestamp in microseconds) may be safe or not: only those beyond
    2^53 become TSON bigints."""
    wire = Tson(_Token).dumps({"index": number, "text": "", "ratio": 0.5, "counts": [number]})
    unsafe = abs(number) > MAX_SAFE_INTEGER
    assert (b'"t!bigint:' in wire) == unsafe
    assert Tson(_Token).loads(wire)["counts"] == [number]


# --- hostile input: any bytes fail only as validation, alike with TSON or without ---------


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**60), max_value=10**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["t!Date:2026-01-01T00:00:00Z", "t!bigint:12345678901234567890", "t!"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["when", "count", "ratio", "tags", "anything", "big", "children", "leaf"]
            )
            | st.text(max_size=4),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


def _json_text(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


# Broken JSON: a document with bytes cut, repeated or replaced, and known troublemakers.
def _mangle(document: bytes, cuts: list[int], insert: bytes) -> bytes:
    for cut in cuts:
        cut %= len(document) + 1
        document = document[:cut] + insert + document[cut:]
    return document


troublemakers = st.sampled_from(
    [b"[", b"{", b"]", b"}", b",", b":", b'"', b"\\", b"\\u", b"\\ud800", b"NaN", b"-Infinity",
     b"1e999", b"9" * 30, b"\xff", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\0", b'"t!', b"t!bigint:",
     b"[" * 250, b'{"a":' * 120]
)  # fmt: skip
hostile_documents = st.one_of(
    st.binary(max_size=64),
    json_values.map(_json_text),
    st.builds(
        _mangle,
        json_values.map(_json_text),
        st.lists(st.integers(min_value=0), max_size=3),
        troublemakers | st.binary(max_size=3),
    ),
)


@settings(max_examples=400, deadline=None)
@given(data=hostile_documents)
def test_property_any_bytes_are_a_value_or_a_validation_error_alike_with_tson_or_not(
    data: bytes,
) -> None:
    check_tson(data)


big_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**MAX_DIGITS - 1), max_value=10**MAX_DIGITS - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=12,
)


class _Holder(BaseModel):
    when: datetime
    value: JsonValue


@settings(max_examples=200, deadline=None)
@given(value=big_json_values, depth=st.integers(min_value=0, max_value=MAX_DEPTH - 2))
def test_property_any_json_value_round_trips_to_the_limits(value: Any, depth: int) -> None:
    """Integers of up to MAX_DIGITS digits, -0.0, and nesting up to MAX_DEPTH, through the
    walk (the datetime makes the document TSON)."""
    from pydantic_core import from_json, to_json

    codec = Tson(_Holder)
    nested = value
    for _ in range(depth):
        nested = [nested]
    if len(to_json(nested)) > 200_000 or _depth(nested) > MAX_DEPTH - 1:
        return
    holder = _Holder(when=datetime(2026, 1, 1, tzinfo=UTC), value=nested)
    wire = codec.dumps(holder)
    loaded = codec.loads(wire)
    assert loaded.when == holder.when
    assert to_json(loaded.value) == to_json(nested)
    assert from_json(to_json(loaded.value)) == from_json(to_json(nested))


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in cast(list[Any], value)), default=0)
    if isinstance(value, dict):
        items = cast(dict[str, Any], value).values()
        return 1 + max((_depth(item) for item in items), default=0)
    return 0


@pytest.mark.parametrize(
    ("document", "kind"),
    [
        (b"[" * (MAX_DEPTH + 1) + b"1" + b"]" * (MAX_DEPTH + 1), "json_depth"),
        (b"9" * (MAX_DIGITS + 1), "json_digits"),
        (b'"\xff"', "json_utf8"),
        (b"[NaN]", "json_constant"),
        (b'["t!", Infinity]', "json_constant"),
        (b"[1,]", "json_invalid"),
        (b'["t!", 1,]', "json_invalid"),
    ],
)
def test_a_document_that_is_not_json_says_why(document: bytes, kind: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Tson(Any).loads(document)
    assert [error["type"] for error in raised.value.errors()] == [kind]


def test_a_value_with_many_errors_keeps_its_first_alone() -> None:
    wrong = [{"count": "x"}] * (FEW_ERRORS + 1)
    with pytest.raises(ValidationError) as raised:
        Tson(list[Leaf]).loads(json.dumps(wrong).encode())
    assert raised.value.errors(include_url=False) == [
        {
            "type": "int_parsing",
            "loc": (0, "count"),
            "msg": "Input should be a valid integer, unable to parse string as an integer",
            "input": "x",
        }
    ]
    few = [{"count": "x"}] * FEW_ERRORS
    with pytest.raises(ValidationError) as raised:
        Tson(list[Leaf]).loads(json.dumps(few).encode())
    assert raised.value.error_count() == FEW_ERRORS


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        (b'{"count": 20, "ratio": 1}', True),
        (b'{"count": 20.0, "ratio": 1.5}', True),  # JSON Schema's integer, JavaScript's too
        (b'{"count": 2e1, "ratio": 1.5}', True),
        (b'{"count": 20.5, "ratio": 1}', False),
        (b'{"count": "20", "ratio": 1}', False),
        (b'{"count": true, "ratio": 1}', False),
        (b'{"count": 20, "ratio": "1.5"}', False),
    ],
)
def test_strict_params_refuse_another_json_type_but_take_whole_floats_for_ints(
    body: bytes, accepted: bool
) -> None:
    class Params(BaseModel):
        count: int
        ratio: float

    codec = Tson(Params)
    if accepted:
        params = codec.loads(body, strict=True)
        assert params.count == 20
        assert isinstance(params.count, int)
    else:
        with pytest.raises(ValidationError):
            codec.loads(body, strict=True)
    assert codec.loads(b'{"count": "20", "ratio": 1}').count == 20, "lax unless asked"
