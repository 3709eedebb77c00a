"""The corpus of types: what the manifest and both clients must carry exactly."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Annotated, Any, Generic, Literal, NamedTuple, NotRequired, TypeVar
from uuid import UUID

from milkio_gen import BigInt
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from typing_extensions import TypedDict

T = TypeVar("T")


class Color(StrEnum):
    RED = "red"
    GREEN = "green"


class Level(IntEnum):
    LOW = 1
    HIGH = 2


class Address(BaseModel):
    """Where someone lives."""

    street: str
    city: str = Field(description="The city, as written on letters.")


class Person(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    age: int = Field(ge=0, le=200)
    address: Address
    nickname: str | None = None
    tags: list[str] = Field(default_factory=list)


class Cat(BaseModel):
    kind: Literal["cat"] = "cat"
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"] = "dog"
    good: bool


Pet = Annotated[Cat | Dog, Field(discriminator="kind")]


class Tree(BaseModel):
    """A recursive model."""

    label: str
    children: list[Tree] = []


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int


class Item(BaseModel):
    sku: str
    price: Decimal


class Aliased(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    first_name: str = Field(alias="firstName")
    last_seen: datetime | None = Field(default=None, alias="lastSeen")


class Movie(TypedDict):
    title: str
    year: int
    rating: NotRequired[float]


class Partial(TypedDict, total=False):
    note: str
    count: int


@dataclasses.dataclass
class Point:
    x: float
    y: float
    label: str = "origin"


class Pair(NamedTuple):
    left: int
    right: str


class Described(BaseModel):
    amount: Annotated[int, Field(description="How many, at most ten.", ge=0, le=10)]
    unit: Annotated[str, Field(description="What is counted.")] = "piece"


CORPUS: dict[str, Any] = {
    "nested": Person,
    "optional": int | None,
    "union": int | str,
    "discriminated": Pet,
    "literal": Literal["a", "b", 3],
    "str_enum": Color,
    "int_enum": Level,
    "list": list[int],
    "tuple": tuple[int, str, bool],
    "variadic_tuple": tuple[int, ...],
    "set": set[int],
    "frozenset": frozenset[str],
    "dict": dict[str, float],
    "aware_datetime": datetime,
    "date": date,
    "time": time,
    "timedelta": timedelta,
    "uuid": UUID,
    "decimal": Decimal,
    "bytes": bytes,
    "big_int": int,
    "bigint": BigInt,
    "recursive": Tree,
    "generic": Page[Item],
    "constrained": Annotated[str, Field(min_length=2, max_length=5)],
    "aliased": Aliased,
    "typed_dict": Movie,
    "partial_typed_dict": Partial,
    "dataclass": Point,
    "named_tuple": Pair,
    "described": Described,
    "any": Any,
    "json": JsonValue,
}
