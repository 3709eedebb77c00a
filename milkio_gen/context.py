"""`Context`: what an action knows about the call it serves."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AsyncExitStack
from contextvars import ContextVar
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, cast, overload

from typing_extensions import TypeVar

from .meta import ApiMeta

if TYPE_CHECKING:
    from litestar import Request
    from litestar.datastructures import Headers, State
    from litestar.types import Receive, Scope

    from .channels import Broker, Channel
    from .runtime.server.stream import StopReason
    from .tracked import Tracked

MessageT = TypeVar("MessageT")
DependencyT = TypeVar("DependencyT")
MetaT = TypeVar("MetaT", bound=ApiMeta, default=ApiMeta, covariant=True)

__all__ = ["Context", "current_execute_id"]

current_execute_id: ContextVar[str | None] = ContextVar("milkio_execute_id", default=None)
"""The execute id of the call the running code serves, for logs written outside `logger`."""

_logger = logging.getLogger("milkio_gen.app")


class _ExecuteLogger(logging.LoggerAdapter[logging.Logger]):
    """Prefixes every line with the execute id, so an action's logs can be found by it."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = self.extra or {}
        kwargs.setdefault("extra", {}).update(extra)
        return f"[{extra['execute_id']}] {msg}", kwargs


class Context(Generic[MetaT]):
    """The second argument of an action, and the one argument of its hooks.

    An app puts what its hooks find out (the user who calls, say) on a context of its own,
    which its actions then take, typed:

    ```python
    class AppContext(Context[Meta]):
        user: User | None = None

    hooks = Hooks(context=AppContext)
    ```
    Declare such attributes with a default, and do not override `__init__`.

    Attributes:
        execute_id: unique id of this call, sent to the client and used in logs.
        path: the API path, such as `chat/subscribe`.
    """

    def __init__(
        self,
        *,
        execute_id: str,
        path: str,
        meta: MetaT,
        scope: Scope,
        receive: Receive,
    ) -> None:
        self.execute_id = execute_id
        self.path = path
        self._meta = meta
        self.stop_reason: StopReason | None = None
        """Set when the server stops a stream before its action ends by itself: the client
        left (`disconnected`), stopped reading (`send_timeout`), the API's `max_duration`
        passed (`deadline`), or the server shuts down (`shutdown`). Read it in `finally`."""
        self._scope = scope
        self._receive = receive
        self._subscriptions: list[AsyncGenerator[Any, None]] = []
        # Made when first asked for: an idle stream holds thousands of contexts.
        self._dependencies: dict[str, Any] | None = None
        self._cleanups: AsyncExitStack | None = None
        self._resolving: asyncio.Lock | None = None
        self._closed = False

    @property
    def meta(self) -> MetaT:
        """The API's `meta`, an instance of the app's meta model (`ApiMeta` by default)."""
        return self._meta

    @cached_property
    def headers(self) -> Headers:
        """The request headers (case-insensitive)."""
        from litestar.datastructures import Headers

        return Headers.from_scope(self._scope)

    @property
    def last_event_id(self) -> str | None:
        """The `Last-Event-ID` a reconnecting client sent: the id of the last `Tracked`
        chunk it received, after which the action should continue."""
        return self.headers.get("last-event-id")

    @cached_property
    def request(self) -> Request[Any, Any, Any]:
        """The Litestar request, for the app's state, the client address and the like."""
        from litestar import Request

        return Request(self._scope, self._receive)

    @cached_property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger whose every line carries the execute id."""
        return _ExecuteLogger(_logger, {"execute_id": self.execute_id, "path": self.path})

    @property
    def channels(self) -> Broker:
        """The app's channels broker; `publish` and `subscribe` are its usual uses."""
        from .channels.broker import STATE_KEY

        broker = self._scope["litestar_app"].state.get(STATE_KEY)
        if broker is None:
            raise RuntimeError(
                "this app has no channels broker: serve it with `create_app`, or add one to "
                "your own app with `Litestar(plugins=[Broker()])`"
            )
        return broker

    async def publish(self, channel: Channel[MessageT], message: MessageT) -> str | None:
        """Send `message` to every subscriber of `channel`, on every instance of the app.
        Returns the message's id, where the backend gives ids."""
        return await self.channels.publish(channel, message)

    def subscribe(
        self, channel: Channel[MessageT], *, history: int = 0, resume: bool = True
    ) -> AsyncIterator[Tracked[MessageT]]:
        """The messages of `channel` from now on, each `Tracked` by its id, to `yield` as
        they come. With `resume` (the default), a client reconnecting with `Last-Event-ID`
        first gets every message after it that the channel's history holds; otherwise the
        last `history` messages come first. Ends, and unsubscribes, when the stream stops."""
        after = self.last_event_id if resume else None
        subscription = self.channels.subscribe(channel, after=after, history=history)
        self._subscriptions.append(subscription)
        return subscription

    @property
    def state(self) -> State:
        """The Litestar app's state (`app.state`): what the app set up for its handlers."""
        return self._scope["litestar_app"].state

    @overload
    async def dependency(self, name: str) -> Any: ...
    @overload
    async def dependency(self, name: str, kind: type[DependencyT]) -> DependencyT: ...
    async def dependency(self, name: str, kind: type[Any] | None = None) -> Any:
        """The app's dependency `name`, as Litestar gives it to its own handlers: declared
        with `dependencies={"db": Provide(...)}` on the app or a router above the APIs;
        `kind` types it for the editor (`await context.dependency("db", Database)`).

        A name asked again in the same call gives the same value. A generator dependency
        is cleaned up once the call has ended, after the `after_execute` hooks; if the call
        did not succeed, what ended it is thrown into the generator at its `yield` (the
        action's exception, or `CallEnded`), so it can roll back rather than commit."""
        if self._closed:
            raise RuntimeError("the call has ended: its dependencies are cleaned up")
        if self._resolving is None:
            self._resolving, self._dependencies = asyncio.Lock(), {}
        resolved = cast(dict[str, Any], self._dependencies)
        async with self._resolving:  # two tasks of one call asking at once get one value
            if name not in resolved:
                from .runtime.server.dependencies import resolve_dependency

                if self._cleanups is None:
                    self._cleanups = AsyncExitStack()
                resolved[name] = await resolve_dependency(self.request, name, self._cleanups)
        return resolved[name]

    async def close(self, error: BaseException | None = None) -> None:
        """End what the call holds: its subscriptions, so none outlives its stream (even one
        the action left suspended in its loop), and its generator dependencies, into which
        `error`, what ended the call without success, is thrown. The server calls it once
        the call has ended and its `after_execute` hooks have run."""
        self._closed = True
        subscriptions, self._subscriptions = self._subscriptions, []
        try:
            for subscription in subscriptions:
                await subscription.aclose()
        finally:
            cleanups, self._cleanups = self._cleanups, None
            if cleanups is not None:
                if error is None:
                    await cleanups.aclose()
                else:
                    await cleanups.__aexit__(type(error), error, error.__traceback__)
