"""The server side: Litestar routes that speak Milkio's protocol for the app's actions."""

from .openapi import ApiDocs
from .router import SKIP_COMPRESSION, ApiSet, ServerSettings, bind, create_app, create_router
from .stream import stop_open_streams

__all__ = [
    "SKIP_COMPRESSION",
    "ApiDocs",
    "ApiSet",
    "ServerSettings",
    "bind",
    "create_app",
    "create_router",
    "stop_open_streams",
]
