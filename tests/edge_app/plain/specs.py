from milkio_gen import define_api


@define_api()
async def action() -> str:
    """Named like the client's table of plain APIs."""
    return "plain/specs"
