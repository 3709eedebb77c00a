"""`ApiSpec`: what a generated client knows of one API to call it and check its answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import TypeAdapter

__all__ = ["ApiSpec"]

OutputT = TypeVar("OutputT")


@dataclass(slots=True)
class ApiSpec(Generic[OutputT]):
    path: str
    kind: Literal["plain", "stream"]
    output_type: Any
    """The chunk type of a stream, the result type of a plain call."""
    _adapter: TypeAdapter[OutputT] | None = field(default=None, repr=False)

    @property
    def adapter(self) -> TypeAdapter[OutputT]:
        # Built on first use: a client of 500 APIs pays only for those it calls.
        if self._adapter is None:
            self._adapter = TypeAdapter(self.output_type)
        return self._adapter
