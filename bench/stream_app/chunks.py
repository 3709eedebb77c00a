"""Streams of `n` small chunks yielded as fast as the action can: the same data as a
TypedDict and as a pydantic model, to see what each costs."""

from collections.abc import AsyncIterator

from milkio_gen import define_api
from pydantic import BaseModel
from typing_extensions import TypedDict


class Count(BaseModel):
    n: int


class TokenDict(TypedDict):
    index: int
    text: str


class Token(BaseModel):
    index: int
    text: str


@define_api()
async def dicts(params: Count) -> AsyncIterator[TokenDict]:
    for index in range(params.n):
        yield {"index": index, "text": "tok"}


@define_api()
async def models(params: Count) -> AsyncIterator[Token]:
    for index in range(params.n):
        yield Token(index=index, text="tok")
