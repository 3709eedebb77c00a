from milkio_gen import Context, define_api

from .hooks import Meta


class OtherContext(Context[Meta]):
    pass


# Line numbers matter: tests name them.


@define_api(meta={"auht": "user"})
async def misspelt() -> str:
    return ""


@define_api(meta={"auth": "admin"})
async def unknown_value() -> str:
    return ""


@define_api(meta={})
async def other_context(context: OtherContext) -> str:
    return ""
