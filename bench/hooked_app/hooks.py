"""The bench app's hooks: one `before_execute`, two `on_chunk` (a plain `def` and an
`async def`) and one `after_execute`. `bench.execute` serves the app with a subset of them."""

from typing import Literal

from milkio_gen import ApiMeta, Context, Hooks, Outcome


class Meta(ApiMeta):
    audience: Literal["public", "staff"] = "public"


class BenchContext(Context[Meta]):
    admitted: bool = False
    chunks_seen: int = 0
    chunks_awaited: int = 0
    status: str = ""


hooks = Hooks(context=BenchContext)


@hooks.before_execute
def admit(context: BenchContext) -> None:
    """What an authenticating hook does at the least: reads the meta, notes on the context."""
    context.admitted = context.meta.audience == "public"


@hooks.on_chunk
def count(context: BenchContext, chunk: object) -> None:
    context.chunks_seen += 1


@hooks.on_chunk
async def count_async(context: BenchContext, chunk: object) -> None:
    context.chunks_awaited += 1


@hooks.after_execute
def settle(context: BenchContext, outcome: Outcome) -> None:
    context.status = outcome.status
