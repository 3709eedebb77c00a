"""Build errors, collected across the whole app and reported together."""

from __future__ import annotations

from dataclasses import dataclass

from ..signature import SourceLocation

__all__ = ["BuildError", "BuildFailed"]


@dataclass(frozen=True, slots=True)
class BuildError:
    problem: str
    fix: str
    location: SourceLocation | None = None
    api: str | None = None

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        api = f"[{self.api}] " if self.api else ""
        return f"{where}{api}{self.problem}\n  fix: {self.fix}"


class BuildFailed(Exception):
    def __init__(self, errors: list[BuildError]) -> None:
        super().__init__(f"{len(errors)} error(s)")
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)
