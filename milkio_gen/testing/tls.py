"""A self-signed certificate for 127.0.0.1, made by the machine's `openssl`: to test an app
served over HTTPS with HTTP/2 (`milkio-gen serve --certfile/--keyfile`)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import NamedTuple

__all__ = ["Certificate", "self_signed_certificate"]


class Certificate(NamedTuple):
    """A self-signed certificate for 127.0.0.1 and its key, PEM files."""

    certfile: Path
    keyfile: Path


def self_signed_certificate(directory: Path) -> Certificate:
    """Made in `directory`, valid a day: a browser takes it with `ignore_https_errors`, httpx
    with `verify=<certfile>`."""
    made = Certificate(directory / "cert.pem", directory / "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(made.keyfile), "-out", str(made.certfile)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return made
