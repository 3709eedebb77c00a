"""The results a call ends with: a success with its data, or a failure with a typed fail.

`if result:` narrows the type (a `Failure` is falsy), as do `result.success is True` and
`match result: case Success(data=data): ...`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeAlias, TypeVar

__all__ = ["ExecuteResult", "Failure", "StreamResult", "Success"]

DataT = TypeVar("DataT")
FailT = TypeVar("FailT")


@dataclass(frozen=True, slots=True)
class Success(Generic[DataT]):
    data: DataT
    execute_id: str
    success: Literal[True] = True

    def __bool__(self) -> Literal[True]:
        return True


@dataclass(frozen=True, slots=True)
class Failure(Generic[FailT]):
    """`fail` has `code`, `message`, `data` and `from_client` (true when made by the client)."""

    fail: FailT
    execute_id: str | None
    success: Literal[False] = False

    def __bool__(self) -> Literal[False]:
        return False


ExecuteResult: TypeAlias = Success[DataT] | Failure[FailT]
StreamResult: TypeAlias = Success[None] | Failure[FailT]
"""A stream's result: success once the handshake came, unless a fail came after it."""
