"""Streams the cancel benchmark stops: one suspended in an `await`, one that never awaits
(its only suspension points are its `yield`s). Each notes, in its `finally`, when it was
stopped: `time.monotonic()` is system-wide on Linux, so the benchmark can compare it with
its own clock."""

import asyncio
import os
import time
from collections.abc import AsyncIterator

from milkio_gen import define_api
from pydantic import BaseModel

from bench.stream_app.chunks import TokenDict

LOG_VARIABLE = "BENCH_CANCEL_LOG"
"""The environment variable naming the file each `finally` appends `<run> <monotonic>` to."""


class Run(BaseModel):
    run: int


def note_stop(run: int) -> None:
    """Append when run `run` was stopped to the log file, if the benchmark named one."""
    stopped = time.monotonic()
    path = os.environ.get(LOG_VARIABLE)
    if path:
        with open(path, "a") as log:
            log.write(f"{run} {stopped}\n")


@define_api()
async def sleeping(params: Run) -> AsyncIterator[TokenDict]:
    """One chunk, then an hour in `await asyncio.sleep`: stopped where it awaits."""
    try:
        yield {"index": 0, "text": "tok"}
        await asyncio.sleep(3600)
    finally:
        note_stop(params.run)


@define_api()
async def busy(params: Run) -> AsyncIterator[TokenDict]:
    """Chunks as fast as it can, never awaiting: stopped at a `yield` the buffer holds back."""
    try:
        for index in range(100_000_000):  # bounded; the client stops it after one chunk
            yield {"index": index, "text": "tok"}
    finally:
        note_stop(params.run)
