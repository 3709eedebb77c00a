"""TSON, the JSON superset the wire protocol uses so dates and bigints survive the trip to JS."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from enum import Enum
from typing import cast

import orjson
from pydantic_core import SchemaSerializer, core_schema, to_jsonable_python

__all__ = ["decode", "dumps", "json_bytes", "to_json_compatible", "to_wire"]

_MAX_SAFE = 2**53 - 1  # JavaScript's Number.MAX_SAFE_INTEGER
_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1  # what orjson can write as a number
_BIGINT = re.compile(r"-?[0-9]+")
_TEXT_KINDS = frozenset({"Date", "URL", "RegExp", "Uint8Array", "ArrayBuffer"})
# Python-mode serializer: turns models and dataclasses into dicts but keeps their
# datetimes and ints, which `to_jsonable_python` would flatten to ISO text too early.
_PYTHON = SchemaSerializer(core_schema.any_schema())

_PLAIN = frozenset({str, float, bool, type(None)})  # written by orjson as they are
_Dict = dict[object, object]
_List = list[object]
_sorted = cast(Callable[[_List], _List], sorted)  # raises TypeError on unorderable items


def to_wire(value: object) -> object:
    """Return `value` as plain JSON data for orjson, with TSON strings for dates and bigints."""
    if type(value) in _PLAIN:
        return value
    if type(value) is int:
        return value if -_MAX_SAFE <= value <= _MAX_SAFE else f"t!bigint:{value}"
    # Plain leaves are checked inline: a call per leaf would dominate the cost.
    if type(value) is dict:
        return {
            k if type(k) is str else _key(k): v if type(v) in _PLAIN else to_wire(v)
            for k, v in cast(_Dict, value).items()
        }
    if type(value) is list or type(value) is tuple:
        return [v if type(v) in _PLAIN else to_wire(v) for v in cast(_List, value)]
    if type(value) is datetime:
        return _date(value)
    return _other(value)


def _other(value: object) -> object:
    if isinstance(value, datetime):
        return _date(value)
    if isinstance(value, Enum):
        return to_wire(value.value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return to_wire(int(value))
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        return to_wire(dict(cast(_Dict, value)))
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in cast(_List, value)]
    if isinstance(value, set | frozenset):
        items = list(cast(set[object], value))
        with suppress(TypeError):  # sorted so the output is stable; unorderable stays as is
            items = _sorted(items)
        return [to_wire(v) for v in items]
    python = _PYTHON.to_python(value, mode="python", by_alias=True)
    if type(python) is not type(value):  # a model or dataclass became a dict: walk it
        return to_wire(python)
    return to_wire(to_jsonable_python(value, by_alias=True, bytes_mode="base64"))


def _key(key: object) -> str:
    if isinstance(key, Enum):
        key = key.value
    if isinstance(key, str):
        return str.__str__(key)
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int | float):
        return str(key)
    text = to_jsonable_python(key, bytes_mode="base64")
    return text if isinstance(text, str) else orjson.dumps(text).decode()


def _date(value: datetime) -> str:
    # isoformat() without arguments is the fast one; its fraction is fixed up by hand.
    if value.tzinfo is None or value.utcoffset() is None:
        text, zone = value.isoformat(), ""
    else:
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        text, zone = value.isoformat()[:-6], "Z"  # drop "+00:00"
    micro = value.microsecond
    if micro == 0:
        return f"t!Date:{text}.000{zone}"
    if micro % 1000 == 0:
        return f"t!Date:{text[:-3]}{zone}"
    return f"t!Date:{text}{zone}"


def dumps(value: object) -> bytes:
    """Encode `value` as TSON bytes."""
    return orjson.dumps(to_wire(value))


def _parse_bigint(text: str) -> int | None:
    if not _BIGINT.fullmatch(text):
        return None
    try:
        return int(text)
    except ValueError:  # beyond Python's int-from-str digit limit
        return None


def _unwrap(value: object, bigint: Callable[[int], object]) -> object:
    if type(value) is str:
        if not value.startswith("t!"):
            return value
        kind, sep, text = value[2:].partition(":")
        if sep:
            if kind in _TEXT_KINDS:
                return text
            # A malformed bigint stays a string, so pydantic reports it with its location.
            if kind == "bigint" and (n := _parse_bigint(text)) is not None:
                return bigint(n)
        return value
    if type(value) is dict:
        return {k: _unwrap(v, bigint) for k, v in cast(_Dict, value).items()}
    if type(value) is list:
        return [_unwrap(v, bigint) for v in cast(_List, value)]
    return value


def to_json_compatible(value: object) -> object:
    """Strip TSON markers from a value parsed by `orjson.loads`, leaving JSON-semantic data."""
    return _unwrap(value, int)


def _json_number(n: int) -> object:
    # orjson cannot write integers outside 64 bits, so those go in pre-serialized.
    return n if _INT64_MIN <= n <= _UINT64_MAX else orjson.Fragment(str(n).encode())


def json_bytes(data: bytes) -> bytes:
    """Rewrite TSON bytes into plain JSON bytes that `TypeAdapter.validate_json` understands."""
    if b'"t!' not in data:
        return data
    # Caveat: orjson reads integer literals beyond 64 bits as floats. Our encoder never
    # writes such literals (it uses t!bigint), and neither does the TypeScript client.
    return orjson.dumps(_unwrap(orjson.loads(data), _json_number))


def _decode_value(value: object) -> object:
    if type(value) is str:
        if not value.startswith("t!"):
            return value
        kind, sep, text = value[2:].partition(":")
        if not sep:
            return value
        if kind == "Date":
            try:
                return datetime.fromisoformat(text)
            except ValueError as error:
                raise ValueError(f"TSON date not representable in Python: {text!r}") from error
        if kind == "bigint":
            return int(text)
        return text if kind in _TEXT_KINDS else value
    if type(value) is dict:
        return {k: _decode_value(v) for k, v in cast(_Dict, value).items()}
    if type(value) is list:
        return [_decode_value(v) for v in cast(_List, value)]
    return value


def decode(data: bytes | str) -> object:
    """Decode TSON to Python values as the TypeScript client does, for untyped uses."""
    value = orjson.loads(data)
    marker = '"t!' in data if isinstance(data, str) else b'"t!' in data
    return _decode_value(value) if marker else value
