from milkio_gen import define_api
from pydantic import BaseModel, Field

from . import tokens


class Params(BaseModel):
    name: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")


class Session(BaseModel):
    token: str = Field(description="Send it as `Authorization: Bearer <token>`.")
    expires_at: float = Field(description="When the token expires, in seconds since the epoch.")


@define_api(meta={"auth": "public"})
async def action(params: Params) -> Session:
    """Signs in under a name (the example trusts anyone) and returns a bearer token."""
    token, expires_at = tokens.issue(params.name)
    return Session(token=token, expires_at=expires_at)
