"""Channels: publish from any action, subscribe inside a stream action, across processes.

Built on Litestar's channels plugin; the backend (memory, Redis pub/sub, Redis streams) is
chosen by `ChannelSettings`, from pyproject or the environment. `Channel` is light to
import; the server side loads when first used, so clients do not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .channel import Channel

if TYPE_CHECKING:
    from .broker import Broker
    from .settings import BacklogPolicy, ChannelSettings

__all__ = ["BacklogPolicy", "Broker", "Channel", "ChannelSettings"]


def __getattr__(name: str) -> Any:
    if name == "Broker":
        from .broker import Broker

        return Broker
    if name in ("ChannelSettings", "BacklogPolicy"):
        from . import settings

        return getattr(settings, name)
    raise AttributeError(name)
