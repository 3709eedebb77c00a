from milkio_gen import define_api


@define_api(path="same/path")
async def first() -> int:
    return 1


@define_api(path="same/path")
async def second() -> int:
    return 2


@define_api(path="/bad path")
async def third() -> int:
    return 3
