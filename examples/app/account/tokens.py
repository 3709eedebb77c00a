"""Signed bearer tokens: `name.expires.signature`, checked without a store.

An example's stand-in for a real identity provider: the secret comes from
`EXAMPLE_TOKEN_SECRET`, and a token is good for `LIFETIME` seconds.
"""

import hashlib
import hmac
import os
import time

LIFETIME = 15 * 60

_SECRET = os.environ.get("EXAMPLE_TOKEN_SECRET", "the example app's development secret").encode()


def issue(name: str, lifetime: float = LIFETIME) -> tuple[str, float]:
    """A token for `name`, and when it expires (seconds since the epoch)."""
    expires = time.time() + lifetime
    payload = f"{name}.{int(expires)}"
    return f"{payload}.{_sign(payload)}", float(int(expires))


def holder(token: str) -> str | None:
    """The name a valid, unexpired token was issued to; None for any other token."""
    if not token.isascii():  # what a client sends is anything; a signature is hex
        return None
    payload, _, signature = token.rpartition(".")
    name, _, expires = payload.rpartition(".")
    if not name or not expires.isdigit() or not hmac.compare_digest(signature, _sign(payload)):
        return None
    return name if int(expires) > time.time() else None


def _sign(payload: str) -> str:
    return hmac.new(_SECRET, payload.encode(), hashlib.sha256).hexdigest()
