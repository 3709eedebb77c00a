from milkio_gen import define_api


@define_api()
async def action() -> str:
    return "async-job"
