"""Every way of writing params and stream annotations that the issue promises."""

from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from dataclasses import dataclass

from milkio_gen import Context, define_api
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12


class Point(TypedDict):
    x: int
    y: int


@dataclass
class Box:
    width: float
    height: float
    label: str = "box"


@define_api()
async def typed_dict(params: Point) -> int:
    """Params as a TypedDict."""
    return params["x"] + params["y"]


@define_api()
async def dataclass_params(params: Box) -> float:
    """Params as a dataclass."""
    return params.width * params.height


@define_api()
async def iterator(params: Point) -> AsyncIterator[int]:
    yield params["x"]


@define_api()
async def iterable(params: Point) -> AsyncIterable[int]:
    yield params["x"]


@define_api()
async def generator(params: Point) -> AsyncGenerator[int, None]:
    yield params["x"]


@define_api(path="custom/place", meta={"auth": "none"})
async def explicit_path(context: Context) -> str:
    """An explicit path, and the context's logger and request."""
    context.logger.info("serving %s", context.path)
    return context.request.url.path
