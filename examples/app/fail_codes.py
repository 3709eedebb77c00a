"""The example app's own fail codes."""

from milkio_gen import FailCodes
from pydantic import BaseModel

fail_codes = FailCodes()


class OutOfStock(BaseModel):
    item: str
    available: int


@fail_codes.code("OUT_OF_STOCK")
def out_of_stock(data: OutOfStock) -> str:
    """Fewer items are in stock than were ordered."""
    return f"Only {data.available} of {data.item} left"
