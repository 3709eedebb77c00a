"""Tests for TSON: the reference vectors from the original library, and typed round trips."""

from __future__ import annotations

import dataclasses
import enum
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from milkio_gen.runtime.tson import decode, dumps, json_bytes, to_json_compatible, to_wire
from pydantic import AnyUrl, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

VECTORS_FILE = Path("/work/shared/reference/tson-vectors.json")
VECTORS: dict[str, dict[str, Any]] = {
    v["name"]: v for v in json.loads(VECTORS_FILE.read_text(encoding="utf-8"))["vectors"]
}
BEYOND_9999 = "date after year 9999"


def typed(tp: Any, data: bytes, config: ConfigDict | None = None) -> Any:
    """What a typed receiver does with TSON bytes."""
    return TypeAdapter(tp, config=config).validate_json(json_bytes(data))


def from_descriptor(decoded: Any) -> Any:
    """The Python value our `decode` should give for a vector's `decoded` description."""
    if isinstance(decoded, list):
        return [from_descriptor(v) for v in cast(list[Any], decoded)]
    if not isinstance(decoded, dict):
        return decoded
    described = cast(dict[str, Any], decoded)
    kind = described.get("type")
    if kind == "Date":
        return datetime.fromisoformat(described["value"])
    if kind == "bigint":
        return int(described["value"])
    if kind == "URL":
        return described["value"]
    if kind == "Uint8Array":
        # Byte arrays travel as text; ours decodes to that text, whose UTF-8 is the bytes.
        return bytes(described["bytes"]).decode()
    return {k: from_descriptor(v) for k, v in described.items()}


DECODABLE = sorted(
    name for name, v in VECTORS.items() if "tson" in v and name not in {BEYOND_9999, "RegExp"}
)


def test_vector_file_is_what_these_tests_expect() -> None:
    assert len(VECTORS) == 21
    assert BEYOND_9999 in VECTORS
    assert {n for n, v in VECTORS.items() if "error" in v} == {
        "zero bigint",
        "object holding zero bigint",
    }


@pytest.mark.parametrize("name", DECODABLE)
def test_decode_vector(name: str) -> None:
    vector = VECTORS[name]
    assert decode(vector["tson"]) == from_descriptor(vector["decoded"])
    assert decode(vector["tson"].encode()) == from_descriptor(vector["decoded"])


def test_decode_regexp_gives_its_text() -> None:
    # The original turns "/ab+c/gi" into a RegExp whose *source* is the whole text and
    # whose flags are empty, so it cannot round trip there either; we keep the text.
    vector = VECTORS["RegExp"]
    assert vector["decoded"] == {"type": "RegExp", "source": "\\/ab+c\\/gi", "flags": ""}
    assert decode(vector["tson"]) == "/ab+c/gi"
    assert typed(str, vector["tson"].encode()) == "/ab+c/gi"


def test_year_beyond_9999_fails_clearly() -> None:
    # JavaScript dates reach year 275760; Python's datetime stops at 9999.
    tson = VECTORS[BEYOND_9999]["tson"].encode()
    with pytest.raises(ValueError, match="not representable in Python"):
        decode(tson)
    with pytest.raises(ValidationError):
        typed(datetime, tson)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("date with milliseconds", datetime(2026, 11, 24, 10, 0, 0, 123000, tzinfo=UTC)),
        ("date at whole second", datetime(2026, 11, 24, 10, tzinfo=UTC)),
        ("date before 1970", datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC)),
        ("bigint beyond 2**53", 2**60 + 1),
        ("negative bigint", -(2**64)),
        ("number 0.1", 0.1),
        ("unicode string", "雷电将军 🌸"),
    ],
)
def test_encode_matches_vector_and_round_trips(name: str, value: object) -> None:
    tson = VECTORS[name]["tson"].encode()
    assert dumps(value) == tson
    assert typed(type(value), tson) == value


def test_nested_vectors_encode_to_equivalent_tson() -> None:
    # Python has no bigint type, so small ints are written as plain numbers, and URLs as
    # strings; the original client reads the same values back except 1n vs 1.
    nested = {
        "when": datetime(1970, 1, 1, tzinfo=UTC),
        "ids": [1, 2],
        "deep": {"url": "https://x.y/"},
        "n": None,
        "s": "x",
    }
    assert decode(VECTORS["nested object"]["tson"]) == nested
    assert dumps(nested) == (
        b'{"when":"t!Date:1970-01-01T00:00:00.000Z","ids":[1,2],'
        b'"deep":{"url":"https://x.y/"},"n":null,"s":"x"}'
    )
    mixed = [datetime(1970, 1, 1, tzinfo=UTC), 3, "a", 1, True, None]
    assert dumps(mixed) == b'["t!Date:1970-01-01T00:00:00.000Z",3,"a",1,true,null]'
    assert decode(VECTORS["array of mixed values"]["tson"]) == mixed


def test_numbers_the_original_writes_plainly() -> None:
    # 2**60 + 1 as a JS number already lost precision; it arrives as a JSON integer.
    lost = VECTORS["number beyond 2**53 (not a bigint: precision already lost in JS)"]
    assert typed(int, lost["tson"].encode()) == 1152921504606847000
    assert orjson.loads(dumps(1e21)) == 1e21 == decode(VECTORS["number 1e21"]["tson"])
    # "small bigint" 5n: we write 5 as a number, and both of our decoders read 5n as 5.
    assert dumps(5) == b"5"
    assert typed(int, VECTORS["small bigint"]["tson"].encode()) == 5


def test_zero_bigint_is_written_as_zero() -> None:
    # The original throws on 0n; a Python int 0 is simply the number 0.
    assert VECTORS["zero bigint"]["error"].startswith("TypeError")
    assert dumps(0) == b"0"
    assert dumps({"n": 0}) == b'{"n":0}'


def test_url_travels_as_plain_string() -> None:
    tson = VECTORS["URL"]["tson"].encode()
    assert str(typed(AnyUrl, tson)) == "https://example.com/a?b=1"
    assert dumps(AnyUrl("https://example.com/a?b=1")) == b'"https://example.com/a?b=1"'


def test_bytes_travel_as_base64_not_as_text() -> None:
    # The original sends byte arrays as their UTF-8 text, so non-UTF-8 bytes are lost:
    lossy = VECTORS["Uint8Array of bytes that are not UTF-8"]
    assert decode(lossy["tson"]).encode() == bytes(lossy["decoded"]["bytes"])  # type: ignore[union-attr]
    assert bytes(lossy["decoded"]["bytes"]) != bytes([0, 255, 128])
    # so Python bytes go as base64 (pydantic's, the URL-safe alphabet), validated with a
    # base64 bytes schema.
    raw = bytes([0, 255, 128])
    assert dumps(raw) == b'"AP-A"'
    assert typed(bytes, dumps(raw), ConfigDict(val_json_bytes="base64")) == raw


def test_string_that_looks_like_tson_is_decoded_anyway() -> None:
    # Known ambiguity of the original: any "t!<kind>:" string is decoded, in any field.
    tson = VECTORS["string that looks like TSON"]["tson"]
    assert dumps("t!bigint:5") == tson.encode()
    assert decode(tson) == 5
    with pytest.raises(ValidationError):
        typed(str, tson.encode())


def test_undefined_field_vector() -> None:
    assert decode(VECTORS["undefined field is dropped"]["tson"]) == {"b": 1}


# --- encoder details -------------------------------------------------------------------


def test_datetime_forms() -> None:
    plus2 = timezone(timedelta(hours=2))
    assert to_wire(datetime(2026, 1, 1, 12, tzinfo=plus2)) == "t!Date:2026-01-01T10:00:00.000Z"
    assert to_wire(datetime(2026, 1, 1, 0, 0, 0, 5)) == "t!Date:2026-01-01T00:00:00.000005"
    assert to_wire(datetime(2026, 1, 1, 0, 0, 0, 5, UTC)) == "t!Date:2026-01-01T00:00:00.000005Z"
    assert to_wire(datetime(1, 1, 1)) == "t!Date:0001-01-01T00:00:00.000"


def test_safe_integer_boundary() -> None:
    limit = 2**53 - 1
    assert to_wire([limit, -limit, limit + 1, -limit - 1, True]) == [
        limit,
        -limit,
        f"t!bigint:{limit + 1}",
        f"t!bigint:{-limit - 1}",
        True,
    ]


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 2**60


class Event(BaseModel):
    at: datetime = Field(alias="occurredAt")
    count: int
    color: Color


@dataclasses.dataclass
class Slot:
    start: datetime
    event: Event


def test_leaves_models_and_keys() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    event = Event(occurredAt=at, count=2**60, color=Color.RED)
    assert to_wire(event) == {
        "occurredAt": "t!Date:2026-01-01T00:00:00.000Z",
        "count": f"t!bigint:{2**60}",
        "color": "red",
    }
    assert to_wire(Slot(at, event))["event"]["count"] == f"t!bigint:{2**60}"  # type: ignore[index]
    assert to_wire(
        {1: UUID(int=1), Color.RED: Decimal("1.10"), Level.HIGH: {3, 1, 2}, "t": timedelta(1)}
    ) == {
        "1": "00000000-0000-0000-0000-000000000001",
        "red": "1.10",
        str(2**60): [1, 2, 3],
        "t": "P1D",
    }
    assert to_wire(Level.HIGH) == f"t!bigint:{2**60}"


def test_json_bytes_fast_path_and_decoding() -> None:
    plain = b'{"a":[1,"x"]}'
    assert json_bytes(plain) is plain
    assert to_json_compatible({"a": ["t!bigint:7", "t!Date:X", "t!Other:y", "t!bigint:x"]}) == {
        "a": [7, "X", "t!Other:y", "t!bigint:x"]
    }


# --- typed round trips -------------------------------------------------------------------


class Doc(TypedDict):
    when: datetime
    tags: dict[str, list[int]]


ROUND_TRIPS: list[tuple[Any, Any]] = [
    (datetime, datetime(2026, 11, 24, 10, 0, 0, 123000, tzinfo=UTC)),
    (datetime, datetime(2026, 11, 24, 12, 0, 0, tzinfo=timezone(timedelta(hours=-5)))),
    (datetime, datetime(2026, 11, 24, 10, 0, 0, 123456)),
    (datetime, datetime(2026, 11, 24, 10, 0, 0, 1, tzinfo=UTC)),
    (int, 2**53),
    (int, -(2**53)),
    (int, 2**200),
    (int, -(2**70)),
    (dict[str, list[int]], {"a": [1, 2**64, -(2**64)], "b": []}),
    (Doc, {"when": datetime(2000, 2, 29, tzinfo=UTC), "tags": {"x": [2**63]}}),
    (
        list[Event],
        [Event(occurredAt=datetime(2026, 1, 1, tzinfo=UTC), count=2**60, color=Color.RED)],
    ),
    (Decimal, Decimal("-12345678901234567890.000001")),
    (UUID, UUID("12345678-1234-5678-1234-567812345678")),
    (set[int], {3, 2**60, -1}),
    (frozenset[str], frozenset({"b", "a"})),
    (tuple[int, datetime], (1, datetime(1999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC))),
]


@pytest.mark.parametrize(("tp", "value"), ROUND_TRIPS, ids=lambda x: repr(x)[:40])
def test_round_trip(tp: Any, value: Any) -> None:
    result = typed(tp, dumps(value))
    assert result == value
    assert type(result) is type(value)


def test_round_trip_bytes() -> None:
    raw = bytes(range(256))
    assert typed(bytes, dumps(raw), ConfigDict(val_json_bytes="base64")) == raw


@settings(max_examples=200, deadline=None)
@given(st.datetimes(timezones=st.just(UTC)))
def test_property_aware_datetime(value: datetime) -> None:
    assert typed(datetime, dumps(value)) == value


@settings(max_examples=200, deadline=None)
@given(st.datetimes())
def test_property_naive_datetime(value: datetime) -> None:
    result = typed(datetime, dumps(value))
    assert result == value
    assert result.tzinfo is None


@settings(max_examples=200, deadline=None)
@given(st.integers())
def test_property_int(value: int) -> None:
    assert typed(int, dumps(value)) == value
    assert decode(dumps(value)) == value


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(), st.lists(st.integers())))
def test_property_dict_of_int_lists(value: dict[str, list[int]]) -> None:
    assert typed(dict[str, list[int]], dumps(value)) == value
