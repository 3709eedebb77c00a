"""JSON that keeps integers exact at any size.

Reading is pydantic-core's parser: exact at any size (orjson reads integers beyond 64 bits as
floats, losing digits), and, as orjson, it refuses invalid UTF-8, NaN and nesting beyond 200
levels, which is what `Tson.loads` reads and what orjson can write back. Writing is orjson,
which refuses integers beyond 64 bits: those go in as pre-serialized digits.
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from pydantic_core import from_json

__all__ = ["dumps", "loads", "writable"]

_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1  # what orjson can write as a number


def loads(data: bytes) -> Any:
    """Parse `data`; raises ValueError."""
    return from_json(data, allow_inf_nan=False)


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
