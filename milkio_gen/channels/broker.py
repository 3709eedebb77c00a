"""`Broker`: publish and subscribe for actions, on Litestar's channels plugin.

The plugin holds one backend subscription per channel in a process and fans each message
out to that channel's subscribers, each with its own bounded backlog. On top of it, the
broker types messages by their `Channel`, resumes a subscription after a message id (from
the backend's history, then live, with nothing delivered twice) and applies the backlog
policy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, TypeVar, cast

from litestar.channels import ChannelsPlugin
from litestar.channels.subscriber import Subscriber
from litestar.config.app import AppConfig
from litestar.plugins import InitPlugin

from ..fails import Reject, SubscriptionOverflowData, TypeSafeErrorData
from ..tracked import Tracked
from .backends import IdentifyingBackend, cancellable, create_backend, id_order, unframe
from .channel import Channel
from .settings import ChannelSettings

__all__ = ["Broker"]

MessageT = TypeVar("MessageT")

STATE_KEY = "milkio_channels"

logger = logging.getLogger("milkio_gen.channels")


class _Overflow(Exception):
    pass


class _Subscriber(Subscriber):
    """A subscriber whose backlog, once overflowed, takes nothing more: what it holds is
    delivered, then the subscription ends (`backoff` would drop new messages in silence)."""

    overflowed = False

    async def put(self, item: bytes | None) -> None:
        if item is None:
            # The end, put by `unsubscribe`: what waits is dropped, so that a full backlog
            # cannot block the unsubscribing.
            queue = cast("asyncio.Queue[bytes | None]", self._queue)
            while not queue.empty():
                queue.get_nowait()
                queue.task_done()
            queue.put_nowait(None)
            return
        await super().put(item)

    def put_nowait(self, item: bytes | None) -> bool:
        if not self.overflowed and super().put_nowait(item):
            return True
        self.overflowed = True
        return False

    async def events(self) -> AsyncIterator[bytes]:
        """The messages as they come; raises `_Overflow` once those before the gap are out."""
        queue = cast("asyncio.Queue[bytes | None]", self._queue)
        while True:
            if self.overflowed and queue.empty():
                raise _Overflow
            item: bytes | None = await queue.get()
            if item is None:
                return
            yield item


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
    ) -> AsyncGenerator[Tracked[MessageT], None]:
        """Messages of `channel` as they are published, each `Tracked` by its id.

        `after`: an id (a client's `Last-Event-ID`): first every message after it that the
        history holds. `history`: otherwise, first the last `history` messages. The
        subscription ends when the iteration does, whatever ends it.
        """
        start: tuple[int, int] | None = None
        if after is not None:
            try:
                start = id_order(after)
            except ValueError:
                problem = TypeSafeErrorData(
                    path="Last-Event-ID", expected="a message id", value=after
                )
                raise Reject("TYPE_SAFE_ERROR", problem) from None
        # Subscribing only records the wish (it cannot fail half-way); what could fail or be
        # cancelled comes after, inside the `try` that unsubscribes.
        subscriber = cast(_Subscriber, await self.plugin.subscribe(channel.name))
        try:
            if not self.backend.is_ready(channel.name):  # no task nor timer when it is
                await self._call(
                    asyncio.wait_for(
                        self.backend.ready(channel.name), self.settings.subscribe_timeout
                    )
                )
            last: tuple[int, int] | None = None
            backlog: list[bytes] = []
            if start is not None:
                found = await self._call(self.backend.history_after(channel.name, start))
                backlog = found.payloads
                if found.gap:
                    logger.warning(
                        "resuming %s after %s: older messages than the history keeps were "
                        "missed (raise `history` to keep more)",
                        channel.name,
                        after,
                    )
                # An id newer than any of the channel's (from another backend, or a clock
                # that went back) says nothing of what comes next: do not skip by it.
                if found.newest is not None and start <= found.newest:
                    last = start
            elif history > 0:
                backlog = await self._call(self.backend.get_history(channel.name, history))
            for payload in backlog:
                message_id, data = unframe(payload)
                if message_id is not None:
                    last = id_order(message_id)
                yield Tracked(message_id, channel.decode(data))
            async for payload in subscriber.events():
                message_id, data = unframe(payload)
                if message_id is not None:
                    order = id_order(message_id)
                    if last is not None and order <= last:
                        continue  # delivered from the history already
                    last = order
                yield Tracked(message_id, channel.decode(data))
        except _Overflow:
            overflow = SubscriptionOverflowData(backlog=self.settings.backlog)
            raise Reject("SUBSCRIPTION_OVERFLOW", overflow) from None
        finally:
            await asyncio.shield(self.plugin.unsubscribe(subscriber, channel.name))

    async def _call(self, operation: Any) -> Any:
        """Await a backend operation; an unreachable broker is a retryable fail."""
        try:
            return await cancellable(operation)
        except (ConnectionError, OSError, TimeoutError) as error:
            raise Reject("CHANNELS_UNAVAILABLE", str(error)) from error
        except Exception as error:
            if type(error).__module__.startswith("redis."):
                raise Reject("CHANNELS_UNAVAILABLE", str(error)) from error
            raise
