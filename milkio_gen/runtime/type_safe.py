"""Turning pydantic's first validation error into Milkio's `TYPE_SAFE_ERROR` data."""

from __future__ import annotations

import orjson
from pydantic_core import ErrorDetails

from ..fails import TypeSafeErrorData

__all__ = ["type_safe_error"]

_EXPECTED = {
    "string_type": "string",
    "int_type": "integer",
    "int_parsing": "integer",
    "int_from_float": "integer",
    "float_type": "number",
    "float_parsing": "number",
    "bool_type": "boolean",
    "bool_parsing": "boolean",
    "missing": "required",
    "model_type": "object",
    "model_attributes_type": "object",
    "dict_type": "object",
    "list_type": "array",
    "tuple_type": "array",
    "json_invalid": "valid JSON",
    "json_type": "valid JSON",
    "extra_forbidden": "no such field",
}


def type_safe_error(error: ErrorDetails, root: str = "$input") -> TypeSafeErrorData:
    """`root` names the value: `$input` for params, `$chunk` or `$result` on the client."""
    path = root + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
    )
    expected = _EXPECTED.get(error["type"]) or error["msg"].removeprefix("Input should be ")
    value = None if error["type"] in ("missing", "json_invalid") else error.get("input")
    try:
        orjson.dumps(value)
    except TypeError:
        value = repr(value)
    return TypeSafeErrorData(path=path, expected=expected, value=value)
