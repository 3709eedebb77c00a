"""What a build is doing, told as it goes, so that a long build can show a progress bar."""

from __future__ import annotations

from typing import Protocol

__all__ = ["PHASES", "SILENT", "Progress"]

PHASES = (
    "import the app",
    "describe the APIs",
    "generate Python",
    "generate TypeScript",
    "write files",
)
"""A build's phases, in the order it enters them."""


class Progress(Protocol):
    def phase(self, name: str) -> None:
        """A phase of `PHASES` begins; the one before has ended."""
        ...

    def detail(self, text: str) -> None:
        """What the current phase is at, such as the module being imported."""
        ...


class _Silent:
    def phase(self, name: str) -> None:
        pass

    def detail(self, text: str) -> None:
        pass


SILENT: Progress = _Silent()
"""Told nothing: the default of every build."""
