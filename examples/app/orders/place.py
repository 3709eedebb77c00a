from milkio_gen import define_api
from pydantic import BaseModel, Field

from ..fail_codes import OutOfStock, out_of_stock

_STOCK = {"tea": 3, "cake": 0}


class Params(BaseModel):
    item: str
    quantity: int = Field(ge=1)


class Order(BaseModel):
    item: str
    quantity: int
    remaining: int


@define_api(meta={})
async def action(params: Params) -> Order:
    """Places an order; fails with OUT_OF_STOCK when there is not enough of the item."""
    available = _STOCK.get(params.item, 0)
    if params.quantity > available:
        raise out_of_stock.reject(OutOfStock(item=params.item, available=available))
    _STOCK[params.item] = available - params.quantity
    return Order(item=params.item, quantity=params.quantity, remaining=_STOCK[params.item])
