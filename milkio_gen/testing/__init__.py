"""Helpers for tests of apps built with milkio-gen."""

from .nginx import Nginx
from .redis_server import RedisServer, free_port

__all__ = ["Nginx", "RedisServer", "free_port"]
