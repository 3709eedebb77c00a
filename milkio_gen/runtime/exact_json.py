"""JSON that keeps integers exact at any size, on orjson.

orjson reads integers beyond 64 bits as floats, losing digits, and refuses to write them.
Reading: only a document with a run of 19 digits (which may hold such an integer, or may
not) is read by the standard library, which is exact and slower. Writing: such integers go
in as pre-serialized digits.
"""

from __future__ import annotations

import json
import re
from typing import Any, cast

import orjson

__all__ = ["dumps", "loads", "writable"]

_LONG_DIGITS = re.compile(rb"[0-9]{19}")
_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1  # what orjson can write as a number


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def loads(data: bytes) -> Any:
    """Parse `data`; raises `json.JSONDecodeError` (orjson's is one too) or ValueError."""
    if _LONG_DIGITS.search(data) is None:
        return orjson.loads(data)
    return json.loads(data, parse_constant=_refuse)


def writable(value: Any) -> Any:
    """`value` with every integer orjson cannot write made a pre-serialized fragment."""
    if type(value) is int:
        fits = _INT64_MIN <= value <= _UINT64_MAX
        return value if fits else orjson.Fragment(str(value).encode())
    if type(value) is dict:
        return {k: writable(v) for k, v in cast(dict[str, Any], value).items()}
    if type(value) is list:
        return [writable(v) for v in cast(list[Any], value)]
    return value


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return orjson.dumps(writable(value))
