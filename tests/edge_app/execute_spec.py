from milkio_gen import define_api


@define_api()
async def action() -> str:
    """Named like a method of the client core."""
    return "execute-spec"
