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


class Unauthorized(BaseModel):
    reason: str


@fail_codes.code("UNAUTHORIZED")
def unauthorized(data: Unauthorized) -> str:
    """The API is for signed-in users, and the call carried no valid bearer token."""
    return f"Unauthorized: {data.reason}"
