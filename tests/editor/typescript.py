"""The TypeScript language service (`tests/ts/editor/service.mjs`) in a node process of its
own, asked what an editor asks, every answer bounded in time."""

from __future__ import annotations

import json
import select
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import TS

__all__ = ["LanguageService"]

SECONDS = 30.0
"""How long one answer may take; the first one loads the standard library's types."""


class LanguageService:
    def __init__(self) -> None:
        self._node = subprocess.Popen(
            ["node", str(TS / "editor" / "service.mjs")],
            cwd=TS,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._node.stdin is not None
        assert self._node.stdout is not None
        self._input, self._output = self._node.stdin, self._node.stdout

    def _ask(self, question: dict[str, Any]) -> dict[str, Any]:
        self._input.write(json.dumps(question) + "\n")
        self._input.flush()
        ready, _, _ = select.select([self._output], [], [], SECONDS)
        assert ready, f"no answer within {SECONDS}s to {question['ask']}"
        reply: dict[str, Any] = json.loads(self._output.readline())
        assert "error" not in reply, reply["error"]
        return reply

    def completions(self, file: Path, text: str, offset: int) -> list[str]:
        """The names the service offers at `offset` of `file` showing `text`."""
        question = {"file": str(file), "text": text, "offset": offset, "ask": "completions"}
        return self._ask(question)["labels"]

    def details(self, file: Path, text: str, offset: int, name: str) -> tuple[str, str]:
        """What the completion list shows beside `name`: its declaration, and documentation."""
        question = {"file": str(file), "text": text, "offset": offset, "ask": "details"}
        reply = self._ask({**question, "name": name})
        return reply["display"], reply["documentation"]

    def quickinfo(self, file: Path, text: str, offset: int) -> tuple[str, str]:
        """What a hover at `offset` shows: the declaration, and its documentation."""
        question = {"file": str(file), "text": text, "offset": offset, "ask": "quickinfo"}
        reply = self._ask(question)
        return reply["display"], reply["documentation"]

    def diagnostics(self, file: Path, text: str) -> list[str]:
        question = {"file": str(file), "text": text, "offset": 0, "ask": "diagnostics"}
        return self._ask(question)["messages"]

    def close(self) -> None:
        self._input.close()
        try:
            self._node.wait(10)
        except subprocess.TimeoutExpired:
            self._node.kill()
            self._node.wait(5)
        self._output.close()
