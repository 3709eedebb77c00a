"""Serving with uvicorn, so that a shutdown ends open streams rather than waiting on them.

uvicorn waits for every request in flight before it stops; a stream may never end by itself.
On SIGTERM or Ctrl-C, every open stream first gets the retryable `SERVER_SHUTTING_DOWN` fail
and its action is cancelled (its `finally` runs), then uvicorn stops as usual.
"""

from __future__ import annotations

import logging
from typing import Any

import uvicorn

from .runtime.server import stop_open_streams

__all__ = ["serve"]

logger = logging.getLogger("milkio_gen.server")


class _Server(uvicorn.Server):
    async def shutdown(self, sockets: Any = None) -> None:
        stopped = stop_open_streams()
        if stopped:
            logger.info("shutting down: stopped %d open stream(s)", stopped)
        await super().shutdown(sockets)


def serve(
    app: str, *, host: str, port: int, log_level: str = "info", grace_period: int = 10
) -> None:
    """Serve `app` ("package.module:attribute") until a signal stops it.

    Args:
        grace_period: seconds requests in flight get to end once streams were stopped.
    """
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=grace_period
    )
    _Server(config).run()
