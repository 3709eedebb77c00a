from milkio_gen import define_api


@define_api()
async def action() -> str:
    """Named like the server's fail codes import."""
    return "fail/codes"
