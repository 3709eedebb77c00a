"""A user's file with the editor's cursor in it, written `‸` in the tests."""

from __future__ import annotations

from dataclasses import dataclass

MARK = "‸"


@dataclass(frozen=True)
class Cursor:
    """The text without its mark, and where the mark was: 0-based line and column (as LSP and
    the TypeScript language service count) and the offset in the text."""

    text: str
    line: int
    column: int
    offset: int


def cursor(marked: str) -> Cursor:
    assert marked.count(MARK) == 1, f"one {MARK} a text"
    offset = marked.index(MARK)
    before = marked[:offset]
    line = before.count("\n")
    return Cursor(marked.replace(MARK, ""), line, offset - (before.rfind("\n") + 1), offset)
