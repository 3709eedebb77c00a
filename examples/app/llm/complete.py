import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from milkio_gen import Context, define_api
from pydantic import BaseModel, Field


class Params(BaseModel):
    prompt: str
    max_tokens: int = Field(default=16, ge=1, le=256)
    delay: float = Field(default=0.02, ge=0, le=1, description="Seconds between tokens.")


class Token(BaseModel):
    """One piece of the answer."""

    type: Literal["token"] = "token"
    index: int = Field(description="Where the token stands in the answer, from 0.")
    text: str = Field(description="The token's text, with the space after it.")


class Usage(BaseModel):
    """The last chunk: what the answer cost."""

    type: Literal["usage"] = "usage"
    prompt_tokens: int
    completion_tokens: int


Chunk = Annotated[Token | Usage, Field(discriminator="type")]

_ANSWER = (
    "Streams let a server send an answer piece by piece , so nobody waits for the whole "
    "of it before reading the first word ."
).split()


@define_api(meta={})
async def action(params: Params, context: Context) -> AsyncIterator[Chunk]:
    """Answers a prompt token by token, the way a language model streams, then its usage."""
    sent = 0
    try:
        for index in range(params.max_tokens):
            await asyncio.sleep(params.delay)
            yield Token(index=index, text=_ANSWER[index % len(_ANSWER)] + " ")
            sent += 1
        yield Usage(prompt_tokens=len(params.prompt.split()), completion_tokens=sent)
    finally:
        context.logger.info("completion ended after %d tokens", sent)
