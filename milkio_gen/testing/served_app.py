"""An ASGI app served by uvicorn in a thread of the test's own process, on a free port of
127.0.0.1: a real server, so that a stream arrives chunk by chunk (httpx's `ASGITransport` and
Litestar's `TestClient` hand over a response only once it is whole), and in the same process,
so that the test and the app share their state (a patched module, an event the test sets)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable
from traceback import format_exception
from types import TracebackType
from typing import Any, Self

import uvicorn

__all__ = ["ASGIApp", "ServeError", "ServedApp", "serve"]

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
"""An ASGI application: a Litestar app, the generated `server.app`, any other."""


class ServeError(RuntimeError):
    """The app could not be served, or its server did not stop; the message says why, with
    what the server logged."""


def serve(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    start_timeout: float = 10.0,
    stop_timeout: float = 5.0,
) -> ServedApp:
    """Serve `app` with uvicorn in a thread, once it has started; stop it by leaving `with`, or
    by `stop()`.

    ```python
    from milkio_gen.testing import serve
    from shop.generated.client import Client
    from shop.generated.server import app

    with serve(app) as served, Client(base_url=served.base_url) as client:
        for tick in client.countdown.execute_stream(params={"start": 3}).stream:
            print(tick.left)
    ```

    The server's logs go to the `logging` of the process (pytest captures them) and are left
    as configured there. Streams still open at the stop end as if their clients had gone
    (their actions' `finally` runs); only this server's.

    Args:
        port: 0 for a free one, which `ServedApp.port` then tells.
        start_timeout: seconds the app may take to start (its lifespan's startup included),
            after which `ServeError` is raised.
        stop_timeout: seconds requests in flight get to end at the stop; then they are
            cancelled.

    Raises:
        ServeError: the app did not start (an error of its startup, a port in use, a startup
            that takes longer than `start_timeout`), with what the server logged.
    """
    return ServedApp(
        app, host=host, port=port, start_timeout=start_timeout, stop_timeout=stop_timeout
    )


class ServedApp:
    """An app served in a thread, from its start (in `serve`) to `stop()`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        start_timeout: float = 10.0,
        stop_timeout: float = 5.0,
    ) -> None:
        self.app = app
        """The app as given."""
        self.host = host
        self._stop_timeout = stop_timeout
        self._stopping = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._stopped = False
        config = uvicorn.Config(
            self._serve_app,
            interface="asgi3",
            host=host,
            port=port,
            # Logging stays as the process set it: pytest's capture sees the server's records,
            # and no other logger of the process changes.
            log_config=None,
            timeout_graceful_shutdown=math.ceil(stop_timeout),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="milkio-gen serve", daemon=True)
        self._start(start_timeout)
        self.port: int = self._server.servers[0].sockets[0].getsockname()[1]
        """The port it listens on."""
        self._thread.name = f"milkio-gen serve {self.base_url}"

    @property
    def base_url(self) -> str:
        """Where clients reach it: `http://127.0.0.1:<port>`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        """End the streams still open, then stop the server and wait for its thread. Once is
        enough; a second call does nothing.

        Raises:
            ServeError: the server did not stop within `stop_timeout` and a little more, or
                its thread ended with an error.
        """
        if self._stopped:
            return
        self._stopped = True
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # its loop is closed: nothing to end
                loop.call_soon_threadsafe(self._stopping.set)
        self._server.should_exit = True
        self._thread.join(self._stop_timeout + 5)
        if self._thread.is_alive():
            raise ServeError(f"the server on {self.base_url} did not stop")
        if self._error is not None:
            raise ServeError(f"the server on {self.base_url} failed") from self._error

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _start(self, timeout: float) -> None:
        logged = _Collected()
        # Where uvicorn tells why a startup failed: the app's lifespan, a port in use.
        uvicorn_logger = logging.getLogger("uvicorn.error")
        uvicorn_logger.addHandler(logged)
        try:
            self._thread.start()
            deadline = time.monotonic() + timeout
            while not self._server.started:
                if not self._thread.is_alive():
                    raise ServeError(self._why("the app did not start", logged))
                if time.monotonic() > deadline:
                    # Told before the startup is cancelled, which logs only the cancel.
                    why = self._why(f"the app did not start within {timeout:g}s", logged)
                    self._abandon()
                    raise ServeError(why)
                time.sleep(0.01)
        finally:
            uvicorn_logger.removeHandler(logged)

    def _abandon(self) -> None:
        """Stop a server whose startup hangs: uvicorn waits on it, so its task is cancelled."""
        self._stopped = True
        self._server.should_exit = True
        loop, main = self._loop, self._main
        if loop is not None and main is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(main.cancel)
        self._thread.join(self._stop_timeout)

    def _why(self, message: str, logged: _Collected) -> str:
        reasons = list(logged.messages)
        error = self._error
        # uvicorn logs why before it exits; any other error of its thread is told here.
        if error is not None and not isinstance(error, SystemExit):
            reasons.append("".join(format_exception(error)).rstrip())
        return "\n".join([f"{message}:", *reasons]) if reasons else message

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # uvicorn exits (SystemExit) when it cannot bind
            self._error = error

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._main = asyncio.current_task()
        with contextlib.suppress(asyncio.CancelledError):  # cancelled by `_abandon`
            await self._server.serve()

    async def _serve_app(self, scope: Any, receive: Any, send: Any) -> None:
        """The app, with a `receive` that says `http.disconnect` once the server stops: an
        open stream then ends as when its client leaves (`stop_open_streams` would end the
        streams of every server of the process, and of any started later)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        stopping = self._stopping

        async def receive_until_stop() -> Any:
            if stopping.is_set():
                return {"type": "http.disconnect"}
            received = asyncio.ensure_future(receive())
            stopped = asyncio.ensure_future(stopping.wait())
            try:
                await asyncio.wait((received, stopped), return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopped.cancel()
                if not received.done():
                    received.cancel()
            if received.done() and not received.cancelled():
                return received.result()
            return {"type": "http.disconnect"}

        await self.app(scope, receive_until_stop, send)


class _Collected(logging.Handler):
    """The warnings and errors of a server's startup, to tell why it did not start."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
