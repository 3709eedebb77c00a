from pydantic import BaseModel

from milkio_gen import define_api


class Params(BaseModel):
    name: str


@define_api()
def action(params: Params) -> str:
    return params.name
