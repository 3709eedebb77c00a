"""A plain API that does next to nothing, and a stream of `n` small chunks yielded as fast as
the action can (the TypedDict chunks of `bench.stream_app`)."""

from collections.abc import AsyncIterator

from milkio_gen import define_api
from pydantic import BaseModel
from typing_extensions import TypedDict


class Number(BaseModel):
    n: int


class Count(BaseModel):
    n: int


class TokenDict(TypedDict):
    index: int
    text: str


@define_api(meta={"audience": "public"})
async def ping(params: Number) -> int:
    return params.n + 1


@define_api(meta={"audience": "public"})
async def tokens(params: Count) -> AsyncIterator[TokenDict]:
    for index in range(params.n):
        yield {"index": index, "text": "tok"}
