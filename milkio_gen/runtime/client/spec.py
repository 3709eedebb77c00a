"""`ApiSpec`: what a generated client knows of one API to call it and check its answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from ..tson import Tson

__all__ = ["ApiSpec"]

OutputT = TypeVar("OutputT")


@dataclass(slots=True)
class ApiSpec(Generic[OutputT]):
    path: str
    kind: Literal["plain", "stream"]
    output_type: Any
    """The chunk type of a stream, the result type of a plain call."""
    params_type: Any = None
    """The params type, or None when the API takes none."""
    _output: Tson[OutputT] | None = field(default=None, repr=False)
    _params: Tson[Any] | None = field(default=None, repr=False)

    # Codecs are built on first use: a client of 500 APIs pays only for those it calls.
    @property
    def output(self) -> Tson[OutputT]:
        if self._output is None:
            self._output = Tson(self.output_type)
        return self._output

    @property
    def params(self) -> Tson[Any]:
        if self._params is None:
            self._params = Tson(self.params_type)
        return self._params
