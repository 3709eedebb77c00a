from milkio_gen import define_api


@define_api()
async def action():  # type: ignore[no-untyped-def]
    return 1
