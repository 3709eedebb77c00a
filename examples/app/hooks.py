"""The app's hooks: who calls (from the `Authorization` header), and what an answer cost."""

from typing import Literal

from milkio_gen import ApiMeta, Context, Hooks, Outcome
from pydantic import BaseModel, Field

from .account import tokens
from .fail_codes import Unauthorized, unauthorized
from .llm.complete import Token


class Meta(ApiMeta):
    """What an API's `define_api(meta=...)` may say, besides `max_duration`."""

    auth: Literal["public", "user"] = Field(
        default="public",
        description="`user`: only a caller with a valid bearer token (from `account/login`).",
    )


class User(BaseModel):
    name: str


class AppContext(Context[Meta]):
    """The context of every action and hook of the app."""

    user: User | None = None
    """Who calls, when the request carries a valid bearer token."""
    tokens_sent: int = 0
    """Tokens an LLM answer has sent so far."""


hooks = Hooks(context=AppContext)


@hooks.before_execute
def authenticate(context: AppContext) -> None:
    """Puts the token's holder on the context; refuses APIs for users to anyone else."""
    scheme, _, token = context.headers.get("authorization", "").partition(" ")
    name = tokens.holder(token) if scheme.lower() == "bearer" else None
    if name is not None:
        context.user = User(name=name)
    elif context.meta.auth == "user":
        reason = "the token is invalid or has expired" if token else "no bearer token was sent"
        raise unauthorized.reject(Unauthorized(reason=reason))


@hooks.on_chunk
def count_tokens(context: AppContext, chunk: object) -> None:
    if isinstance(chunk, Token):
        context.tokens_sent += 1


@hooks.after_execute
def report_usage(context: AppContext, outcome: Outcome) -> None:
    """One line per LLM answer: how many tokens went to whom, however the answer ended."""
    if context.tokens_sent:
        who = context.user.name if context.user else "a guest"
        context.logger.info("%d tokens sent to %s (%s)", context.tokens_sent, who, outcome.status)
