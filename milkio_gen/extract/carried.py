"""Types that cannot be carried to clients, found field by field before any schema is made.

Pydantic would turn some of them into a silent `Any` (`list`, an unparametrised generic
model) and refuse others without naming the field; the build names both, with a fix.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, TypeAdapter
from pydantic.errors import PydanticUserError
from typing_extensions import is_typeddict

__all__ = ["Uncarried", "find_uncarried"]

_BARE_CONTAINERS = {
    list: "list[T]",
    dict: "dict[str, T]",
    set: "set[T]",
    frozenset: "frozenset[T]",
    tuple: "tuple[T, ...]",
    collections.abc.Sequence: "list[T]",
    collections.abc.Mapping: "dict[str, T]",
}
_CALLABLES: tuple[Any, ...] = (
    getattr(collections.abc, "Callable"),  # noqa: B009 - the class itself, not a type to check
    getattr(typing, "Callable"),  # noqa: B009
)


@dataclass(frozen=True, slots=True)
class Uncarried:
    where: str
    """The field, as a path from the root type: `Params.owner.callback`."""
    problem: str
    fix: str


def find_uncarried(type_: Any, root: str) -> list[Uncarried]:
    """Every place in `type_` that clients could not be typed from."""
    return list(_walk(type_, root, set()))


def _name(type_: Any) -> str:
    return getattr(type_, "__name__", repr(type_))


def _walk(type_: Any, where: str, seen: set[int]) -> Iterator[Uncarried]:
    origin, args = get_origin(type_), get_args(type_)
    if origin is typing.Annotated:
        yield from _walk(args[0], where, seen)
        return
    if isinstance(type_, TypeVar):
        yield Uncarried(
            where,
            f"is the type variable {type_.__name__}, unknown to clients",
            "parametrise the generic where it is used: Page[Item], not Page",
        )
        return
    if type_ in _BARE_CONTAINERS:
        yield Uncarried(
            where,
            f"is a bare `{_name(type_)}`, whose items would be Any",
            f"say what it holds: {_BARE_CONTAINERS[type_]}",
        )
        return
    if type_ in _CALLABLES or origin in _CALLABLES:
        yield Uncarried(
            where,
            "is a callable, which cannot travel",
            "send data that says what to do (a Literal or an Enum naming the action)",
        )
        return
    if origin in (typing.Union, types.UnionType) or origin is not None:
        for index, arg in enumerate(args):
            if arg is not Ellipsis and arg is not type(None):
                inner = where if origin in (typing.Union, types.UnionType) else f"{where}[{index}]"
                yield from _walk(arg, inner, seen)
        return
    if not inspect.isclass(type_) or id(type_) in seen:
        return
    seen.add(id(type_))
    if issubclass(type_, BaseModel):
        parameters = type_.__pydantic_generic_metadata__["parameters"]
        if parameters:
            names = ", ".join(getattr(p, "__name__", str(p)) for p in parameters)
            example = ", ".join("Item" for _ in parameters)
            yield Uncarried(
                where,
                f"is the generic model {type_.__name__} without its parameters ({names})",
                f"parametrise it where it is used, such as {type_.__name__}[{example}]",
            )
            return
        for field_name, field in type_.model_fields.items():
            yield from _walk(field.annotation, f"{where}.{field_name}", seen)
        return
    if dataclasses.is_dataclass(type_) or is_typeddict(type_) or _is_named_tuple(type_):
        for field_name, hint in typing.get_type_hints(type_, include_extras=True).items():
            yield from _walk(hint, f"{where}.{field_name}", seen)
        return
    if type_.__module__ in ("builtins", "datetime", "decimal", "uuid", "enum", "pathlib"):
        return
    try:
        TypeAdapter(type_)
    except (PydanticUserError, TypeError):
        yield Uncarried(
            where,
            f"is the class {type_.__qualname__}, which has no schema",
            "make it a pydantic model, a dataclass or a TypedDict",
        )


def _is_named_tuple(type_: type[Any]) -> bool:
    return "_fields" in type_.__dict__ and tuple in type_.__mro__
