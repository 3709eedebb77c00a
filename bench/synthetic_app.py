"""A synthetic app of N APIs with mixed types, written to disk for the build benchmarks."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

_HEADER = """\
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from milkio_gen import define_api
"""

_SHAPES = [
    # A plain API over a nested model.
    dedent('''
    class Params{n}(BaseModel):
        name: str = Field(min_length=1)
        count: int = 0
        tags: list[str] = []

    class Address{n}(BaseModel):
        street: str
        city: str

    class Result{n}(BaseModel):
        """The result of API {n}."""
        id: UUID
        at: datetime
        address: Address{n}
        price: Decimal
        notes: dict[str, int]

    @define_api()
    async def api_{n}(params: Params{n}) -> Result{n}:
        raise NotImplementedError
    '''),
    # A stream of a discriminated union.
    dedent("""
    class Params{n}(BaseModel):
        prompt: str
        limit: int | None = None

    class Token{n}(BaseModel):
        kind: Literal["token"] = "token"
        text: str

    class Done{n}(BaseModel):
        kind: Literal["done"] = "done"
        total: int

    Chunk{n} = Annotated[Token{n} | Done{n}, Field(discriminator="kind")]

    @define_api()
    async def api_{n}(params: Params{n}) -> AsyncIterator[Chunk{n}]:
        yield Done{n}(total=0)
    """),
    # Enums, tuples and optional fields.
    dedent("""
    class Color{n}(str, Enum):
        RED = "red"
        BLUE = "blue"

    class Params{n}(BaseModel):
        color: Color{n}
        pair: tuple[int, str]
        maybe: float | None = None

    class Result{n}(BaseModel):
        colors: list[Color{n}]
        when: datetime | None = None

    @define_api()
    async def api_{n}(params: Params{n}) -> Result{n}:
        raise NotImplementedError
    """),
    # A recursive model streamed.
    dedent("""
    class Node{n}(BaseModel):
        label: str
        children: list["Node{n}"] = []

    class Params{n}(BaseModel):
        depth: int = Field(ge=0, le=10)

    @define_api()
    async def api_{n}(params: Params{n}) -> AsyncIterator[Node{n}]:
        yield Node{n}(label="root")
    """),
]


def write_app(directory: Path, package: str, apis: int, per_module: int = 10) -> Path:
    """Write `package` with `apis` APIs into `directory`; return the package's directory."""
    root = directory / package
    root.mkdir(parents=True)
    (root / "__init__.py").write_text("")
    for module_index in range(0, apis, per_module):
        body = [_HEADER]
        for n in range(module_index, min(module_index + per_module, apis)):
            body.append(_SHAPES[n % len(_SHAPES)].format(n=n))
        (root / f"module_{module_index // per_module:03d}.py").write_text("\n".join(body))
    return root
