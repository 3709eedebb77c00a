"""Result envelopes of the wire protocol, shared by the server and the clients.

A plain call answers with one envelope; a stream sends one as its handshake (`@` prefix) and,
if the action failed, one more at its end.
"""

from __future__ import annotations

import orjson

__all__ = [
    "ENVELOPE_PREFIX",
    "HANDSHAKE_DATA",
    "fail_envelope",
    "success_envelope",
]

ENVELOPE_PREFIX = b"@"
HANDSHAKE_DATA = b'"$"'
"""The `data` of a stream's handshake: Milkio's marker for "the stream has started"."""


def success_envelope(execute_id: str, data: bytes) -> bytes:
    """`data` is the already encoded TSON of the result."""
    return orjson.dumps({"executeId": execute_id, "success": True, "data": orjson.Fragment(data)})


def fail_envelope(execute_id: str, code: str, message: str, data: bytes) -> bytes:
    fail = {"code": code, "message": message, "data": orjson.Fragment(data)}
    return orjson.dumps({"executeId": execute_id, "success": False, "fail": fail})
