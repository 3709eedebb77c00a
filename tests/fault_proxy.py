"""A TCP proxy on 127.0.0.1 that misbehaves on purpose: it cuts, stalls, throttles or resets
the connections it carries; and a port whose connects hang. For the fault tests."""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass


@dataclass
class Faults:
    cut_after: int | None = None
    """Close the connection after this many bytes went from the server to the client."""
    stall: bool = False
    """Stop passing the server's bytes on, keeping the connection open."""
    reset: bool = False
    """End with a TCP reset rather than a close, once `cut_after` bytes went through."""
    throttle: int | None = None
    """Pass the server's bytes on at this many bytes a second, in small slices."""
    refuse: bool = False
    """Close new connections at once, as an instance that is down does."""


class FaultProxy:
    def __init__(self, *upstream_ports: int, faults: Faults | None = None) -> None:
        """Connections go to the first of `upstream_ports` that accepts them, as behind a
        load balancer."""
        self.faults = faults or Faults()
        self._upstreams = [("127.0.0.1", port) for port in upstream_ports]
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._stopped = threading.Event()
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._carry, args=(client,), daemon=True).start()

    def cut_all(self) -> None:
        """Close every connection open now, from both ends."""
        with self._lock:
            for side in self._open:
                with contextlib.suppress(OSError):
                    side.shutdown(socket.SHUT_RDWR)

    def _carry(self, client: socket.socket) -> None:
        server = None if self.faults.refuse else self._connect()
        if server is None:
            client.close()
            return
        with self._lock:
            self._open.update((client, server))
        try:
            self._pass_between(client, server)
        finally:
            with self._lock:
                self._open.difference_update((client, server))

    def _pass_between(self, client: socket.socket, server: socket.socket) -> None:
        passed = 0
        with client, server, contextlib.suppress(OSError):  # either side may go at any time
            while not self._stopped.is_set():
                readable, _, _ = select.select([client, server], [], [], 0.05)
                for side in readable:
                    data = side.recv(65536)
                    if not data:
                        return
                    if side is client:
                        server.sendall(data)
                        continue
                    if self.faults.stall:
                        continue
                    limit = self.faults.cut_after
                    if limit is not None and passed + len(data) >= limit:
                        client.sendall(data[: limit - passed])
                        if self.faults.reset:
                            client.setsockopt(
                                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                            )
                        return
                    self._pass_on(client, data)
                    passed += len(data)

    def _connect(self) -> socket.socket | None:
        for upstream in self._upstreams:
            try:
                return socket.create_connection(upstream)
            except OSError:
                continue
        return None

    def _pass_on(self, client: socket.socket, data: bytes) -> None:
        rate = self.faults.throttle
        if rate is None:
            client.sendall(data)
            return
        size = max(1, rate // 50)
        for start in range(0, len(data), size):
            client.sendall(data[start : start + size])
            time.sleep(size / rate)


class Unanswered:
    """A port on 127.0.0.1 whose connects hang: its listener's backlog is full, so the
    kernel drops new SYNs, as a host behind a silent firewall does."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=0)
        self._fillers: list[socket.socket] = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(self._listener.getsockname())
            self._fillers.append(filler)
        time.sleep(0.05)  # the handshakes that the backlog admits complete

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def close(self) -> None:
        for filler in self._fillers:
            filler.close()
        self._listener.close()
