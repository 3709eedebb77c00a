"""The tree of API paths that clients expose as attributes: `client.chat.subscribe`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["ApiNode", "build_tree"]

ApiT = TypeVar("ApiT")


@dataclass(slots=True)
class ApiNode(Generic[ApiT]):
    """One level of the tree: an API, a namespace of APIs, or both."""

    key: str
    """The attribute, in the target language, under which the parent holds this node."""
    path: str
    api: ApiT | None = None
    children: dict[str, ApiNode[ApiT]] = field(default_factory=lambda: {})
    class_name: str = ""
    """For languages that give each node a class."""

    def walk(self) -> list[ApiNode[ApiT]]:
        """Children before parents, so each class is defined before it is used."""
        nodes: list[ApiNode[ApiT]] = []
        for child in self.children.values():
            nodes.extend(child.walk())
        nodes.append(self)
        return nodes


def build_tree(
    apis: Iterable[tuple[str, ApiT]], key_of: Callable[[str], str], numbered: str = "_"
) -> ApiNode[ApiT]:
    """The tree of `(path, api)` pairs; segments whose keys collide (`a-b`, `a_b`) are numbered."""
    root = ApiNode[ApiT](key="", path="")
    for path, api in apis:
        node = root
        segments = path.split("/")
        for depth in range(len(segments)):
            prefix = "/".join(segments[: depth + 1])
            base = key_of(segments[depth])
            key, counter = base, 2
            while key in node.children and node.children[key].path != prefix:
                key, counter = f"{base}{numbered}{counter}", counter + 1
            if key not in node.children:
                node.children[key] = ApiNode[ApiT](key=key, path=prefix)
            node = node.children[key]
        node.api = api
    return root
