"""Helpers for tests of apps built with milkio-gen."""

from .nginx import Nginx
from .redis_server import RedisServer, free_port
from .tls import Certificate, self_signed_certificate

__all__ = ["Certificate", "Nginx", "RedisServer", "free_port", "self_signed_certificate"]
