from milkio_gen import define_api

from ..hooks import AppContext, User


@define_api(meta={"auth": "user"})
async def action(context: AppContext) -> User:
    """Who the token belongs to: fails with UNAUTHORIZED without a valid token."""
    assert context.user is not None  # the `authenticate` hook let the call through
    return context.user
