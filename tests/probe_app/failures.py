"""Actions that fail in each way an action can."""

import asyncio
from collections.abc import AsyncIterator

from milkio_gen import Reject, define_api

SECRET = "secret-internal-detail-7f3a"


@define_api()
async def raise_plain() -> int:
    """Raises an unexpected error."""
    raise RuntimeError(SECRET)


@define_api()
async def raise_in_stream() -> AsyncIterator[int]:
    """Two chunks, then an unexpected error."""
    yield 1
    yield 2
    raise RuntimeError(SECRET)


@define_api()
async def reject_in_stream() -> AsyncIterator[int]:
    """One chunk, then a business fail."""
    yield 1
    raise Reject("BUSINESS_FAIL", "no more for you")


@define_api()
async def reject_undeclared() -> int:
    """Rejects with a code the app never declared."""
    raise Reject("NO_SUCH_CODE", {"x": 1})


@define_api()
async def wrong_chunk() -> AsyncIterator[int]:
    """Declares int chunks, yields a string."""
    yield 1
    yield "not an int"  # type: ignore[misc]


@define_api()
async def raise_at_once() -> AsyncIterator[int]:
    """Fails before its first yield or await."""
    raise RuntimeError(SECRET)
    yield 0  # pragma: no cover - makes this a generator


@define_api()
async def cancelled_inside() -> AsyncIterator[int]:
    """Awaits a task that something else cancels: the action's failure, not a stop."""
    yield 1
    helper = asyncio.create_task(asyncio.sleep(10))
    asyncio.get_running_loop().call_later(0.01, helper.cancel)
    await helper
