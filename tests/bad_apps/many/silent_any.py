from typing import Generic, TypeVar

from pydantic import BaseModel

from milkio_gen import define_api

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]


class Params(BaseModel):
    tags: list  # type: ignore[type-arg]
    page: Page  # type: ignore[type-arg]


@define_api()
async def action(params: Params) -> dict:  # type: ignore[type-arg]
    return {}
