import asyncio
from typing import Literal

from milkio_gen import ApiMeta, Context, FailCodes, Hooks, Outcome
from pydantic import BaseModel

EVENTS: list[str] = []
"""What the hooks and actions did, in order; a test clears it before its call."""
OUTCOMES: list[Outcome] = []

fail_codes = FailCodes()


class Unauthorized(BaseModel):
    reason: str


@fail_codes.code("UNAUTHORIZED")
def unauthorized(data: Unauthorized) -> str:
    return f"Unauthorized: {data.reason}"


@fail_codes.code("TOO_LOUD")
def too_loud(data: str) -> str:
    return f"too loud: {data}"


class Meta(ApiMeta):
    auth: Literal["public", "user"] = "public"
    explode_in: Literal["before", "after", "chunk"] | None = None


class User(BaseModel):
    name: str


class HookedContext(Context[Meta]):
    user: User | None = None
    chunks_seen: int = 0


hooks = Hooks(context=HookedContext)


@hooks.before_execute
async def first(context: HookedContext) -> None:
    await asyncio.sleep(0)
    EVENTS.append(f"before:first:{context.path}")
    if context.meta.explode_in == "before":
        raise RuntimeError("the first hook broke")


@hooks.before_execute
def authenticate(context: HookedContext) -> None:
    EVENTS.append("before:authenticate")
    token = context.headers.get("authorization", "").removeprefix("Bearer ")
    if token:
        context.user = User(name=token)
    elif context.meta.auth == "user":
        raise unauthorized.reject(Unauthorized(reason="no token"))


@hooks.on_chunk
def count(context: HookedContext, chunk: object) -> None:
    context.chunks_seen += 1
    if chunk == "LOUD":
        raise too_loud.reject("LOUD")
    if context.meta.explode_in == "chunk":
        raise RuntimeError("the chunk hook broke")


@hooks.on_chunk
async def note_chunk(context: HookedContext, chunk: object) -> None:
    await asyncio.sleep(0)
    EVENTS.append(f"chunk:{chunk}")


@hooks.after_execute
def outer(context: HookedContext, outcome: Outcome) -> None:
    EVENTS.append(f"after:outer:{outcome.status}")
    OUTCOMES.append(outcome)


@hooks.after_execute
async def inner(context: HookedContext, outcome: Outcome) -> None:
    EVENTS.append(f"after:inner:{context.chunks_seen}")
    if context.meta.explode_in == "after":
        raise RuntimeError("the after hook broke")
