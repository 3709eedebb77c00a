"""Reading an action's signature: its kind, params type and chunk or result type."""

from __future__ import annotations

import collections.abc
import inspect
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast, get_args, get_origin

from .context import Context
from .tracked import Tracked

__all__ = [
    "ApiSignature",
    "SignatureError",
    "context_class_of",
    "read_signature",
    "source_location",
]

Kind = Literal["plain", "stream"]

_STREAM_ORIGINS = (
    collections.abc.AsyncIterator,
    collections.abc.AsyncIterable,
    collections.abc.AsyncGenerator,
)


@dataclass(frozen=True, slots=True)
class ApiSignature:
    kind: Kind
    params_type: Any
    """The params type, or `None` when the action takes no params."""
    output_type: Any
    """The chunk type of a stream API, the result type of a plain one."""
    takes_context: bool
    tracked: bool = False
    """The stream yields `Tracked` chunks: events with ids a client can resume after."""
    context_type: Any = None
    """The context class the action is annotated with (`Context`, or an app's subclass)."""


@dataclass(frozen=True, slots=True)
class SourceLocation:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class SignatureError(Exception):
    """An action whose signature cannot be carried, with where it is and how to fix it."""

    def __init__(self, problem: str, fix: str, location: SourceLocation | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.location = location

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.problem}\n  fix: {self.fix}"


def source_location(function: Any) -> SourceLocation | None:
    """Where `function` is written, as a path from the directory its package is imported from.

    That path is the same on every machine, so it can go into generated files.
    """
    function = inspect.unwrap(function)
    try:
        source = inspect.getsourcefile(function)
        if source is None:
            return None
        file = Path(source)
        code = getattr(function, "__code__", None)
        # A function's first line is on its code: reading its block from the file (as
        # `inspect.getsourcelines` does) costs a tokenizer run per API.
        line = code.co_firstlineno if code is not None else inspect.getsourcelines(function)[1]
    except (OSError, TypeError):
        return None
    depth = len(getattr(function, "__module__", "").split(".")) + (file.stem == "__init__")
    return SourceLocation(Path(*file.parts[-depth:]).as_posix(), line)


def read_signature(function: Any) -> ApiSignature:
    """Read what an API takes and gives; raise `SignatureError` saying what to write instead."""
    location = source_location(function)
    name = getattr(function, "__qualname__", repr(function))

    def fail(problem: str, fix: str) -> SignatureError:
        return SignatureError(f"{name}: {problem}", fix, location)

    if inspect.isgeneratorfunction(function):
        raise fail(
            "is a sync generator", "write `async def` with `yield` and `-> AsyncIterator[T]`"
        )
    is_stream = inspect.isasyncgenfunction(function)
    if not is_stream and not inspect.iscoroutinefunction(function):
        raise fail("is not an async function", "write it as `async def`")

    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except Exception as error:
        raise fail(
            f"its annotations cannot be resolved ({error})",
            "import every type the signature names at module level",
        ) from error

    parameters = list(inspect.signature(function).parameters.values())
    params_type: Any = None
    takes_context = False
    context_type: Any = None
    for position, parameter in enumerate(parameters):
        if parameter.kind not in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            raise fail(
                f"parameter {parameter.name!r} is not positional",
                "take `(params: Params, context: Context)`",
            )
        annotation = hints.get(parameter.name, inspect.Parameter.empty)
        context_class = context_class_of(annotation)
        if context_class is not None:
            takes_context = True
            context_type = context_class
            continue
        if position > 0 or takes_context:
            raise fail(
                f"parameter {parameter.name!r} is neither the params nor the context",
                "take `(params: Params, context: Context)`",
            )
        if annotation is inspect.Parameter.empty:
            raise fail(
                f"parameter {parameter.name!r} has no type annotation",
                f"annotate it: `{parameter.name}: Params` with a pydantic model, TypedDict "
                "or dataclass",
            )
        params_type = annotation
    if len(parameters) > 2:
        raise fail("takes more than two parameters", "take `(params: Params, context: Context)`")

    if "return" not in hints:
        fix = "annotate `-> AsyncIterator[Chunk]`" if is_stream else "annotate `-> Result`"
        raise fail("has no return annotation", fix)
    returned = hints["return"]
    if not is_stream:
        if get_origin(returned) in _STREAM_ORIGINS:
            raise fail(
                "is annotated as a stream but does not `yield`",
                "yield its chunks in the action itself (`async def` with `yield`)",
            )
        return ApiSignature("plain", params_type, returned, takes_context, False, context_type)

    if get_origin(returned) not in _STREAM_ORIGINS or not get_args(returned):
        raise fail(
            f"yields, but its return annotation is {returned!r}",
            "annotate `-> AsyncIterator[Chunk]` (or AsyncIterable / AsyncGenerator[Chunk, None])",
        )
    chunk = get_args(returned)[0]
    tracked = get_origin(chunk) is Tracked
    if tracked:
        chunk = get_args(chunk)[0]
    return ApiSignature("stream", params_type, chunk, takes_context, tracked, context_type)


def context_class_of(annotation: Any) -> type[Context[Any]] | None:
    """The context class `annotation` names (`Context`, `Context[Meta]`, an app's subclass),
    or None when it names none."""
    candidate = get_origin(annotation) or annotation
    if isinstance(candidate, type) and issubclass(candidate, Context):
        return cast(type[Context[Any]], candidate)
    return None
