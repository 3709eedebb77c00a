from milkio_gen import define_api


@define_api()
async def action() -> list[int]:  # type: ignore[misc]
    yield 1
