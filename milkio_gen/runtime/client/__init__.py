"""The client side: what generated `AsyncClient` and `Client` classes build on."""

from .async_client import AsyncClientCore, AsyncStreamCall
from .results import ExecuteResult, Failure, StreamResult, Success
from .spec import ApiSpec
from .sync_client import ClientCore, StreamCall

__all__ = [
    "ApiSpec",
    "AsyncClientCore",
    "AsyncStreamCall",
    "ClientCore",
    "ExecuteResult",
    "Failure",
    "StreamCall",
    "StreamResult",
    "Success",
]
