"""Helpers for tests of apps built with milkio-gen: the app served in a thread (`serve`, and
the pytest fixtures of `milkio_gen.testing.pytest_plugin`), a throwaway redis-server, nginx in
front, a self-signed certificate."""

from .nginx import Nginx
from .redis_server import RedisServer, free_port
from .served_app import ServedApp, ServeError, serve
from .tls import Certificate, self_signed_certificate

__all__ = [
    "Certificate",
    "Nginx",
    "RedisServer",
    "ServeError",
    "ServedApp",
    "free_port",
    "self_signed_certificate",
    "serve",
]
