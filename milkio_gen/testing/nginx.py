"""A real nginx (Debian's `nginx`) on a free port of 127.0.0.1, as a reverse proxy in front of
a server under test, with the settings docs/deploy.md recommends: to test an app as it will
be deployed, and to measure what the proxy costs (`python -m bench.deploy`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from .redis_server import free_port

__all__ = ["READ_TIMEOUT", "Nginx"]

READ_TIMEOUT = 2.0
"""The proxy's `proxy_read_timeout`, in seconds: short, so that an idle stream meets it."""

# Proxy buffering is left at its default (on): the server's `X-Accel-Buffering: no` turns it
# off for event streams, and the tests show that it does.
CONFIG = """\
{user}worker_processes 1;
pid {state}/nginx.pid;
error_log {state}/error.log info;
events {{
    worker_connections 64;
}}
http {{
    access_log off;
    client_body_temp_path {state}/client_body;
    proxy_temp_path {state}/proxy;
    fastcgi_temp_path {state}/fastcgi;
    uwsgi_temp_path {state}/uwsgi;
    scgi_temp_path {state}/scgi;

    upstream app {{
        server 127.0.0.1:{upstream};
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_read_timeout {read_timeout}s;
{extra}        }}
    }}
}}
"""


class Nginx:
    def __init__(self, upstream_port: int, *extra: str) -> None:
        """nginx passing 127.0.0.1:`upstream_port` on; `extra` directives go into its
        `location /`, after the others (`proxy_ignore_headers X-Accel-Buffering;`)."""
        executable = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(executable).exists():
            raise RuntimeError("nginx is needed: apt-get install nginx (scripts/setup)")
        self.port = free_port()
        self._state = Path(tempfile.mkdtemp(prefix="nginx-"))
        config = self._state / "nginx.conf"
        config.write_text(
            CONFIG.format(
                # A master started as root gives its workers to `nobody`, who may not write
                # into this directory; there is no one to give them to otherwise.
                user="user root;\n" if os.geteuid() == 0 else "",
                state=self._state,
                upstream=upstream_port,
                port=self.port,
                read_timeout=f"{READ_TIMEOUT:g}",
                extra="".join(f"            {line}\n" for line in extra),
            )
        )
        command = [executable, "-p", str(self._state), "-c", str(config)]
        self._process = subprocess.Popen(
            [*command, "-e", str(self.error_log), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"nginx did not start:\n{self.errors()}")
            try:
                httpx.get(self.base_url, timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"nginx did not answer:\n{self.errors()}")

    def __enter__(self) -> Nginx:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def error_log(self) -> Path:
        return self._state / "error.log"

    def errors(self) -> str:
        return self.error_log.read_text() if self.error_log.exists() else ""

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(5)
        shutil.rmtree(self._state, ignore_errors=True)
