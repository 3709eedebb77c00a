"""How the server treats requests and streams: limits, buffers and timers. Read from
`[tool.milkio-gen.server]` at build time and from `MILKIO_SERVER_*` environment variables at
start-up, which win, so a deployment tunes them without a new build."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import SettingsConfigDict

from .environment import EnvironmentFirst

__all__ = ["ServerOptions", "ServerSettings"]


class ServerOptions(BaseModel):
    """The server's options, as `[tool.milkio-gen.server]` gives them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_body_size: int = Field(default=1024 * 1024, ge=0)
    """Largest request body accepted, in bytes; larger ones fail with `PAYLOAD_TOO_LARGE`."""
    body_timeout: float | None = Field(default=30.0, gt=0)
    """Seconds a request's body may take to arrive once its head has; a slower one fails
    with `REQUEST_TIMEOUT`. None: wait forever."""
    rate_limit: tuple[Literal["second", "minute", "hour", "day"], int] | None = None
    """Calls one client address may make per unit of time (`["minute", 600]`), counted by
    Litestar's rate-limit middleware in each server process; one more fails with the
    retryable `TOO_MANY_REQUESTS`, which says when to call again. None: no limit."""
    max_streams_per_client: int | None = Field(default=200, ge=1)
    """Streams one client address may hold open at once in a server process; one more fails
    with the retryable `TOO_MANY_STREAMS`. None: no cap. Behind a proxy, let the server see
    the client's own address (uvicorn's `--forwarded-allow-ips`), or every client is one."""
    stream_buffer_events: int = Field(default=256, ge=1)
    """Events a stream may hold ahead of the client before the action is paused."""
    stream_buffer_bytes: int = Field(default=64 * 1024, ge=1)
    """Bytes a stream may hold ahead of the client before the action is paused; an event
    larger than this still goes, alone."""
    ping_interval: float | None = Field(default=15.0, gt=0)
    """Seconds of silence on a stream after which a `: ping` comment is sent, so proxies
    and load balancers do not close it as idle. None: never."""
    send_timeout: float | None = Field(default=30.0, gt=0)
    """Seconds a send may wait on a client that stopped reading; then it is disconnected and
    the action cancelled. None: wait forever."""


class ServerSettings(EnvironmentFirst, ServerOptions):  # pyright: ignore[reportIncompatibleVariableOverride]
    """The server's options, where `MILKIO_SERVER_*` environment variables override those
    given (`MILKIO_SERVER_MAX_STREAMS_PER_CLIENT=20`; `null` for None)."""

    model_config = SettingsConfigDict(
        env_prefix="MILKIO_SERVER_", env_parse_none_str="null", extra="forbid", frozen=True
    )
