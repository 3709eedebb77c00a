"""Which broker carries the channels, read from `[tool.milkio-gen.channels]` at build time
and from `MILKIO_CHANNELS_*` environment variables at start-up, which win."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import SettingsConfigDict

from ..environment import EnvironmentFirst

__all__ = ["BacklogPolicy", "ChannelOptions", "ChannelSettings"]

BacklogPolicy = Literal["fail", "drop_oldest"]


class ChannelOptions(BaseModel):
    """The options of the channels broker, as `[tool.milkio-gen.channels]` gives them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["memory", "redis", "redis-streams"] = "memory"
    """`memory`: one process. `redis`: Redis pub/sub, across processes, no history (a stream
    cut mid-way cannot resume). `redis-streams`: Redis streams, across processes, with history,
    so a reconnecting client gets exactly what it missed."""
    url: str = "redis://127.0.0.1:6379/0"
    """The Redis server, for the Redis backends."""
    history: int = Field(default=1000, ge=0)
    """Messages kept per channel for resume (and `subscribe(history=n)`), for `memory` and
    `redis-streams`: a client may be this many messages behind and still resume."""
    history_ttl: float = Field(default=3600.0, gt=0)
    """Seconds a Redis channel's history is kept after its last message."""
    backlog: int = Field(default=1000, ge=1)
    """Messages a subscriber may be behind its stream's client before `on_backlog_full`."""
    on_backlog_full: BacklogPolicy = "fail"
    """`fail`: end the subscriber's stream with the retryable `SUBSCRIPTION_OVERFLOW` (a
    client with retries resumes after its last message, losing nothing where there is
    history). `drop_oldest`: drop the subscriber's oldest waiting messages."""
    key_prefix: str = "milkio"
    """Prefix of the Redis keys and pub/sub channels."""
    subscribe_timeout: float = Field(default=5.0, gt=0)
    """Seconds a subscription may wait for the broker to confirm it; then it fails with the
    retryable `CHANNELS_UNAVAILABLE`."""


class ChannelSettings(EnvironmentFirst, ChannelOptions):  # pyright: ignore[reportIncompatibleVariableOverride]
    """The options of the channels broker, where `MILKIO_CHANNELS_*` environment variables
    override those given: `MILKIO_CHANNELS_BACKEND=redis-streams
    MILKIO_CHANNELS_URL=redis://host:6379/0` move a deployment to Redis with no change to the
    code and no new build.
    """

    model_config = SettingsConfigDict(env_prefix="MILKIO_CHANNELS_", extra="forbid", frozen=True)
