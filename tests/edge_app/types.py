import datetime as dt
from enum import Enum

from milkio_gen import define_api
from pydantic import BaseModel, Field
from typing_extensions import TypeAliasType

Json = TypeAliasType("Json", "dict[str, Json] | list[Json] | str | int | float | bool | None")


class Dashes(Enum):
    RED_ONE = "red-one"
    RED_UNDER = "red_one"


class Mixed(Enum):
    ONE = 1
    BEE = "b"
    HALF = 0.5


class Shadows(BaseModel):
    """A model named "Shadows\""""

    date: dt.date | None = None
    start: dt.date = Field(default=dt.date(2026, 1, 1))
    payload: Json = None
    dashes: Dashes = Dashes.RED_ONE
    mixed: Mixed = Mixed.HALF
    from_: str = Field(default="x", alias="from")


@define_api()
async def shadows(params: Shadows) -> Shadows:
    """Echoes a model whose field names hide the names of types."""
    return params
