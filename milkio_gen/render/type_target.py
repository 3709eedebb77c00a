"""What every client language shares in turning the manifest's JSON Schemas into types.

A target language subclasses `TypeTarget`: it says how a name is made valid in it, which
names it keeps for itself, and how types are written. The shared part decides which
definitions the API roots reach and on which side (what clients send is *input*, what they
receive *output*), and gives each definition one name per side: the output type keeps the
app's name, an input twin takes an `Input` suffix.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

if TYPE_CHECKING:
    from ..manifest import Manifest

__all__ = ["Schema", "Side", "TypeTarget", "refs_in"]

Side = Literal["input", "output"]
Schema = dict[str, Any]


def refs_in(schema: Any) -> Iterator[str]:
    """The `$defs` names a schema refers to, directly."""
    if isinstance(schema, dict):
        for key, value in cast(Schema, schema).items():
            if key == "$ref" and isinstance(value, str):
                yield value.removeprefix("#/$defs/")
            elif key != "discriminator":
                yield from refs_in(value)
    elif isinstance(schema, list):
        for item in cast(list[Any], schema):
            yield from refs_in(item)


class TypeTarget(ABC):
    """The types of one client language: plan the roots, then ask for types and declarations."""

    reserved: ClassVar[frozenset[str]] = frozenset()
    """Names the generated files use for themselves; app types get another name."""

    def __init__(self, defs: dict[str, Schema]) -> None:
        self.defs = defs
        self.taken_names: set[str] = set(self.reserved)
        self._sides: dict[str, set[Side]] = {}
        self._names: dict[tuple[str, Side], str] = {}

    @abstractmethod
    def identifier(self, text: str) -> str:
        """A valid type name close to `text`."""

    @abstractmethod
    def type_of(self, schema: Schema, side: Side) -> str:
        """The type expression of a schema, on one side."""

    @abstractmethod
    def declarations(self) -> list[Any]:
        """Every named type the planned roots need, in the order the file declares them."""

    def shared_by_sides(self, schema: Schema) -> bool:
        """Whether one declaration serves both sides (enums, by default)."""
        return "enum" in schema and "properties" not in schema

    def plan_manifest(self, manifest: Manifest) -> None:
        """Plan every type of the manifest: params as input, the rest as output."""
        roots: list[tuple[Schema, Side]] = []
        for entry in manifest.apis:
            if entry.params is not None:
                roots.append((entry.params, "input"))
            roots.append((entry.chunk or entry.result or {}, "output"))
        roots.extend((fail.data, "output") for fail in manifest.fail_codes)
        self.plan(roots)

    def plan(self, roots: list[tuple[Schema, Side]]) -> None:
        """Record every definition the roots reach, and on which side, then name them."""
        pending = list(roots)
        while pending:
            schema, side = pending.pop()
            for ref in refs_in(schema):
                target: Side = "output" if self.shared_by_sides(self.defs[ref]) else side
                sides = self._sides.setdefault(ref, set())
                if target not in sides:
                    sides.add(target)
                    pending.append((self.defs[ref], side))
        for ref in sorted(self._sides):
            for side in sorted(self._sides[ref], key=lambda s: s != "output"):
                base = self.identifier(ref)
                if side == "input" and "output" in self._sides[ref]:
                    base = f"{base}Input"
                self._names[(ref, side)] = self.claim(base, suffix="Model")

    @property
    def planned(self) -> list[tuple[str, Side]]:
        return list(self._names)

    @property
    def declared_names(self) -> set[str]:
        return set(self._names.values())

    def name_of(self, ref: str, side: Side) -> str:
        shared = self.shared_by_sides(self.defs[ref])
        return self._names[(ref, "output" if shared else side)]

    def planned_name(self, ref: str, side: Side) -> str:
        return self._names[(ref, side)]

    def claim(self, name: str, *, suffix: str = "", twin_prefix: str = "") -> str:
        """Reserve `name`, or the first free variant of it (`suffix`, then numbers).

        With `twin_prefix`, the prefixed twin (`AsyncChatApi` beside `ChatApi`) is reserved too.
        """
        taken = self.taken_names
        candidates = itertools.chain(
            [name, f"{name}{suffix}"] if suffix else [name],
            (f"{name}{suffix}{counter}" for counter in itertools.count(2)),
        )
        for candidate in candidates:
            if candidate not in taken and not (twin_prefix and twin_prefix + candidate in taken):
                taken.add(candidate)
                if twin_prefix:
                    taken.add(twin_prefix + candidate)
                return candidate
        raise AssertionError("unreachable: the candidates never end")
