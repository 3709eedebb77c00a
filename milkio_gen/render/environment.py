"""The one Jinja environment of the generators, and the filters templates may use."""

from __future__ import annotations

import json
import textwrap
from functools import cache
from importlib import resources
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

__all__ = ["environment", "templates_dir"]


def templates_dir() -> Path:
    """Templates ship inside the wheel; in a source checkout they sit at the top level."""
    packaged = Path(str(resources.files("milkio_gen"))) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "templates"


LINE_LENGTH = 100
"""The generated code's line length, as its ruff settings have it."""


def docstring(text: str | None, indent: int = 0) -> str:
    """A triple-quoted docstring literal of `text`, indented for its block, its long lines
    wrapped to the line length (a user's one-line docstring may be any length)."""
    if not text:
        return ""
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').strip()
    if body.endswith('"'):
        body = body[:-1] + '\\"'  # a quote just before the closing ones would end it early
    pad = " " * indent
    if "\n" not in body and indent + len(body) + 6 <= LINE_LENGTH:
        return f'{pad}"""{body}"""'
    lines = _wrapped(body.splitlines(), LINE_LENGTH - indent, first=LINE_LENGTH - indent - 3)
    inner = "\n".join(f"{pad}{line}" if line else "" for line in lines[1:])
    return f'{pad}"""{lines[0]}\n{inner}\n{pad}"""'


def _wrapped(lines: list[str], width: int, first: int) -> list[str]:
    """`lines` with each one longer than its width broken at spaces, its indent kept."""
    out: list[str] = []
    for line in (line.rstrip() for line in lines):
        limit = first if not out else width
        if len(line) <= limit:
            out.append(line)
            continue
        lead = line[: len(line) - len(line.lstrip())]
        pieces = textwrap.wrap(
            line.strip(),
            width=max(limit - len(lead), 20),
            break_long_words=False,
            break_on_hyphens=False,
        )
        out.extend(lead + piece for piece in pieces)
    return out


def jsdoc(text: str | None, indent: int = 0) -> str:
    """A JSDoc comment of `text`, indented for its block, ending with a newline."""
    if not text:
        return ""
    pad = " " * indent
    lines = [line.rstrip() for line in text.replace("*/", "*\\/").strip().splitlines()]
    if len(lines) == 1:
        return f"{pad}/** {lines[0]} */\n"
    body = "".join(f"{pad} *{' ' + line if line else ''}\n" for line in lines)
    return f"{pad}/**\n{body}{pad} */\n"


def python_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(templates_dir()),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        autoescape=False,
    )
    env.filters["docstring"] = docstring
    env.filters["pystr"] = python_string
    env.filters["jsdoc"] = jsdoc
    env.filters["tsstr"] = lambda text: json.dumps(text, ensure_ascii=False)
    return env
