"""Helpers for tests of apps built with milkio-gen."""

from .redis_server import RedisServer, free_port

__all__ = ["RedisServer", "free_port"]
