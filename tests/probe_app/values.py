"""Values JSON cannot carry, both ways: datetimes and ints beyond 2**53."""

from collections.abc import AsyncIterator
from datetime import datetime

from milkio_gen import BigInt, Context, define_api
from pydantic import Base64Bytes, BaseModel


class Values(BaseModel):
    when: datetime
    naive: datetime
    big: int
    items: list[int]
    label: str | None = None


@define_api()
async def echo(params: Values) -> Values:
    """Returns its params."""
    return params


@define_api()
async def echo_stream(params: Values) -> AsyncIterator[Values]:
    """Yields its params twice."""
    yield params
    yield params


@define_api()
async def nothing() -> None:
    """Takes no params, returns nothing."""


class Seen(BaseModel):
    execute_id: str
    path: str
    header: str | None


@define_api()
async def context_seen(context: Context) -> Seen:
    """What the context told the action."""
    return Seen(
        execute_id=context.execute_id, path=context.path, header=context.headers.get("x-probe")
    )


class Texts(BaseModel):
    text: str
    raw: bytes
    binary: Base64Bytes


@define_api()
async def texts(params: Texts) -> Texts:
    """Strings that look like TSON, UTF-8 bytes and binary bytes, echoed."""
    return params


class Big(BaseModel):
    exact: BigInt
    small: BigInt
    when: datetime
    maybe_when: datetime | None = None


@define_api()
async def big(params: Big) -> AsyncIterator[Big]:
    """`BigInt`s and datetimes, streamed back twice."""
    yield params
    yield params
