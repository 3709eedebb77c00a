"""The client side: what generated `AsyncClient` and `Client` classes build on."""

from .async_client import AsyncClientCore, AsyncStreamCall
from .base import AsyncHeadersFunction, HeadersFunction, StreamTimeouts
from .results import ExecuteResult, Failure, StreamResult, Success
from .retry import Retry
from .spec import ApiSpec
from .sync_client import ClientCore, StreamCall

__all__ = [
    "ApiSpec",
    "AsyncClientCore",
    "AsyncHeadersFunction",
    "AsyncStreamCall",
    "ClientCore",
    "ExecuteResult",
    "Failure",
    "HeadersFunction",
    "Retry",
    "StreamCall",
    "StreamResult",
    "StreamTimeouts",
    "Success",
]
