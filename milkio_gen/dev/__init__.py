"""`milkio-gen dev`: serve the app and, on every save in its package, build it again and
restart the server."""

from .loop import DevLoop, port_taken

__all__ = ["DevLoop", "port_taken"]
