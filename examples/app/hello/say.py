from datetime import UTC, datetime

from milkio_gen import define_api
from pydantic import BaseModel, Field


class Params(BaseModel):
    name: str = Field(min_length=1, description="Who to greet.")


class Greeting(BaseModel):
    message: str
    at: datetime = Field(description="When the greeting was made (UTC).")


@define_api(meta={})
async def action(params: Params) -> Greeting:
    """Greets by name."""
    return Greeting(message=f"Hello, {params.name}!", at=datetime.now(UTC))
