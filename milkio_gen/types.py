"""Types with a wire form of their own."""

from __future__ import annotations

from typing import Annotated

from pydantic import WithJsonSchema

__all__ = ["BigInt"]

BigInt = Annotated[int, WithJsonSchema({"type": "integer", "format": "bigint"})]
"""An int that TypeScript clients receive as a `bigint`, exactly, whatever its size.

A plain `int` is a `number` there, exact only up to 2**53. A `BigInt` always travels as
TSON (`"t!bigint:5"`), so its TypeScript type can be `bigint` for small values too.
"""
