"""`docs/getting-started.md`, followed as a reader would: its commands run in order in a
fresh directory (`pip install milkio-gen` installs the wheel of this repository), its files
are written where it says, `milkio-gen dev` keeps serving in the background, and what the
page shows a command printing must be what it prints."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.processes import free_port

PAGE = ROOT / "docs" / "getting-started.md"
PORT_IN_PAGE = "9000"
FENCE = re.compile(r'^```(\w+)(?: title="([^"]+)")?\n(.*?)^```\n', re.MULTILINE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Command:
    line: str
    shown: tuple[str, ...]
    """What the page shows it printing: each line must be in its output, in this order."""


@dataclass(frozen=True, slots=True)
class File:
    path: str
    content: str


def steps(page: str) -> list[Command | File]:
    """The page's commands (`console` blocks) and titled files, in the order a reader meets them."""
    found: list[Command | File] = []
    for language, title, body in FENCE.findall(page):
        if title:
            found.append(File(title, body))
        elif language == "console":
            for chunk in re.split(r"^\$ ", body, flags=re.MULTILINE)[1:]:
                line, *shown = chunk.rstrip("\n").split("\n")
                found.append(Command(line, tuple(shown)))
    return found


def test_the_page_is_read_as_commands_and_files() -> None:
    read = steps(PAGE.read_text())
    commands = [step.line for step in read if isinstance(step, Command)]
    files = [step.path for step in read if isinstance(step, File)]
    assert commands[:4] == [
        "python3 -m venv .venv",
        ". .venv/bin/activate",
        "pip install milkio-gen",
        "milkio-gen new shop",
    ]
    assert {"milkio-gen dev", "python stream.py", "npx tsx stream.ts"} <= set(commands)
    assert files == ["stream.py", "stream.ts", "shop/app/countdown.py", "stream.py"]


class Reader:
    """Runs the page's steps as a shell would, keeping the directory and the activated venv."""

    def __init__(self, home: Path, wheel: Path) -> None:
        self.cwd = home
        self.env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
        self.env["PATH"] = os.pathsep.join(
            part for part in self.env["PATH"].split(os.pathsep) if "/.venv/" not in part + "/"
        )
        self.env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        self.wheel = wheel
        self.port = str(free_port())
        self.dev: subprocess.Popen[bytes] | None = None
        self.dev_log = home / "dev.log"

    def run(self, step: Command | File) -> None:
        if isinstance(step, File):
            self.write(step)
            return
        words = shlex.split(step.line)
        if words[0] == "cd":
            self.cwd = self.cwd / words[1]
        elif words[:1] == ["."]:
            venv = (self.cwd / words[1]).parent.parent
            self.env["VIRTUAL_ENV"] = str(venv)
            self.env["PATH"] = f"{venv / 'bin'}{os.pathsep}{self.env['PATH']}"
        elif words == ["milkio-gen", "dev"]:
            self.start_dev()
        else:
            line = step.line.replace("pip install milkio-gen", f"pip install {self.wheel}")
            self.check(step, line)

    def check(self, step: Command, line: str) -> None:
        done = subprocess.run(
            line, shell=True, executable="/bin/bash", cwd=self.cwd, env=self.env,
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        printed = (done.stdout + done.stderr).splitlines()
        assert done.returncode == 0, f"$ {step.line}\n{done.stdout}{done.stderr}"
        at = 0
        for shown in step.shown:
            while at < len(printed) and shown not in printed[at]:
                at += 1
            assert at < len(printed), f"$ {step.line}: {shown!r} not printed:\n{done.stdout}"
            at += 1

    def write(self, step: File) -> None:
        target = self.cwd / step.path
        serving = self.servings()
        target.write_text(step.content.replace(PORT_IN_PAGE, self.port))
        if self.dev is not None and "/app/" in f"/{step.path}":
            # A reader waits for `milkio-gen dev` to build and serve again.
            self.wait(lambda: self.servings() > serving and self.answers(), 60, "served again")

    def start_dev(self) -> None:
        command = ["milkio-gen", "dev", "--port", self.port]
        with self.dev_log.open("wb") as log:
            self.dev = subprocess.Popen(
                command, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.wait(self.answers, 60, "milkio-gen dev serves")

    def servings(self) -> int:
        return self.dev_log.read_text().count("serving ") if self.dev_log.exists() else 0

    def answers(self) -> bool:
        try:
            httpx.post(f"http://127.0.0.1:{self.port}/hello", json={"name": "x"}, timeout=2)
        except httpx.TransportError:
            return False
        return True

    def wait(self, condition: Callable[[], bool], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.1)
        log = self.dev_log.read_text() if self.dev_log.exists() else ""
        raise AssertionError(f"not within {seconds}s: {what}\n{log}")

    def stop(self) -> None:
        if self.dev is not None and self.dev.poll() is None:
            os.killpg(self.dev.pid, signal.SIGINT)
            try:
                self.dev.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.dev.pid, signal.SIGKILL)
                self.dev.wait(5)


@pytest.mark.timeout(1200)
def test_getting_started_works_as_written(wheel: Path, tmp_path: Path) -> None:
    reader = Reader(tmp_path, wheel)
    try:
        for step in steps(PAGE.read_text()):
            reader.run(step)
    finally:
        reader.stop()
    log = reader.dev_log.read_text()
    assert "build failed" not in log
    (rebuilt,) = re.findall(r"`milkio-gen dev` prints `(built [^`]+)`", PAGE.read_text())
    assert rebuilt in log, "the change rewrote the files the page says it does"
