from milkio_gen import define_api


@define_api()
async def action() -> str:
    """Says "hi\""""
    return "hello-world"


@define_api(path="hello_world")
async def dashed() -> str:
    return "hello_world"
