"""`Broker`: publish and subscribe for actions, on Litestar's channels plugin.

The plugin holds one backend subscription per channel in a process and fans each message
out to that channel's subscribers, each with its own bounded backlog. On top of it, the
broker types messages by their `Channel`, resumes a subscription after a message id (from
the backend's history, then live, with nothing delivered twice) and applies the backlog
policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from litestar.channels import ChannelsPlugin
from litestar.channels.subscriber import Subscriber
from litestar.config.app import AppConfig
from litestar.plugins import InitPlugin

from ..fails import Reject, SubscriptionOverflowData, TypeSafeErrorData
from ..tracked import Tracked
from .backends import IdentifyingBackend, create_backend, id_order, unframe
from .channel import Channel
from .settings import ChannelSettings

__all__ = ["Broker"]

MessageT = TypeVar("MessageT")

STATE_KEY = "milkio_channels"


class _Subscriber(Subscriber):
    """A subscriber that notes when its backlog overflowed, instead of dropping in silence."""

    overflowed = False

    def put_nowait(self, item: bytes | None) -> bool:
        if super().put_nowait(item):
            return True
        self.overflowed = True
        return False


class Broker(InitPlugin):
    """The channels of an app. `create_app` adds one, built from `ChannelSettings`; give your
    own to `Litestar(plugins=[broker])` when mounting the router into an app of yours."""

    def __init__(
        self,
        settings: ChannelSettings | None = None,
        *,
        backend: IdentifyingBackend | None = None,
    ) -> None:
        self.settings = settings or ChannelSettings()
        self.backend = backend or create_backend(self.settings)
        drop_oldest = self.settings.on_backlog_full == "drop_oldest"
        self.plugin = ChannelsPlugin(
            self.backend,
            arbitrary_channels_allowed=True,
            subscriber_max_backlog=self.settings.backlog,
            subscriber_backlog_strategy="dropleft" if drop_oldest else "backoff",
            subscriber_class=_Subscriber,
        )

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.state[STATE_KEY] = self
        return self.plugin.on_app_init(app_config)

    async def publish(self, channel: Channel[MessageT], message: MessageT) -> str | None:
        """Publish `message` on every instance; returns its id, where the backend gives one.
        Returns once the backend has it."""
        return await self._call(self.backend.publish_one(channel.encode(message), channel.name))

    async def subscribe(
        self,
        channel: Channel[MessageT],
        *,
        after: str | None = None,
        history: int = 0,
    ) -> AsyncIterator[Tracked[MessageT]]:
        """Messages of `channel` as they are published, each `Tracked` by its id.

        `after`: an id (a client's `Last-Event-ID`): first every message after it that the
        history holds. `history`: otherwise, first the last `history` messages. The
        subscription ends when the iteration does, whatever ends it.
        """
        subscriber: _Subscriber = await self._call(self.plugin.subscribe(channel.name))  # type: ignore[assignment]
        try:
            last: tuple[int, int] | None = None
            backlog: list[bytes]
            if after is not None:
                try:
                    last = id_order(after)
                except ValueError:
                    data = TypeSafeErrorData(
                        path="Last-Event-ID", expected="a message id", value=after
                    )
                    raise Reject("TYPE_SAFE_ERROR", data) from None
                backlog = await self._call(self.backend.history_after(channel.name, after))
            elif history > 0:
                backlog = await self._call(self.backend.get_history(channel.name, history))
            else:
                backlog = []
            for payload in backlog:
                message_id, data = unframe(payload)
                if message_id is not None:
                    last = id_order(message_id)
                yield Tracked(message_id, channel.decode(data))
            events: AsyncIterator[bytes] = subscriber.iter_events()
            async for payload in events:
                if subscriber.overflowed:
                    raise Reject(
                        "SUBSCRIPTION_OVERFLOW",
                        SubscriptionOverflowData(backlog=self.settings.backlog),
                    )
                message_id, data = unframe(payload)
                if message_id is not None:
                    order = id_order(message_id)
                    if last is not None and order <= last:
                        continue  # delivered from the history already
                    last = order
                yield Tracked(message_id, channel.decode(data))
        finally:
            await asyncio.shield(self.plugin.unsubscribe(subscriber, channel.name))

    async def _call(self, operation: Any) -> Any:
        """Await a backend operation; an unreachable broker is a retryable fail."""
        try:
            return await operation
        except (ConnectionError, OSError, TimeoutError) as error:
            raise Reject("CHANNELS_UNAVAILABLE", str(error)) from error
        except Exception as error:
            if type(error).__module__.startswith("redis."):
                raise Reject("CHANNELS_UNAVAILABLE", str(error)) from error
            raise
