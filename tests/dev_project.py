"""A new project with `milkio-gen dev` running on it, as the dev and editor tests use it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import httpx

MILKIO_GEN = str(Path(sys.executable).parent / "milkio-gen")


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds}s: {what}")


def greeting(base_url: str) -> dict[str, object] | None:
    """What the new project's `hello` answers; None while no server answers."""
    try:
        answer = httpx.post(f"{base_url}/hello", json={"name": "Ada"}, timeout=2)
    except httpx.HTTPError:
        return None
    return answer.json().get("data")


def new_project(directory: Path) -> Path:
    """`milkio-gen new shop` in `directory`; the project's root."""
    made = subprocess.run(
        [MILKIO_GEN, "new", "shop"], cwd=directory, capture_output=True, timeout=120, check=False
    )
    assert made.returncode == 0, made.stderr
    return directory / "shop"


@contextlib.contextmanager
def running_dev(
    project: Path, port: int, output: IO[bytes] | int, *options: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`milkio-gen dev` on `project`, in a process group of its own, stopped at the end by
    Ctrl-C to the group, as a terminal sends it."""
    dev = subprocess.Popen(
        [MILKIO_GEN, "dev", "--port", str(port), *options],
        cwd=project, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        yield dev
    finally:
        if dev.poll() is None:
            os.killpg(dev.pid, signal.SIGINT)
        try:
            dev.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
            dev.wait(5)
