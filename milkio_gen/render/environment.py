"""The one Jinja environment of the generators, and the filters templates may use."""

from __future__ import annotations

import json
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


def docstring(text: str | None, indent: int = 0) -> str:
    """A triple-quoted docstring literal of `text`, indented for its block."""
    if not text:
        return ""
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').strip()
    if body.endswith('"'):
        body = body[:-1] + '\\"'  # a quote just before the closing ones would end it early
    pad = " " * indent
    if "\n" not in body:
        return f'{pad}"""{body}"""'
    lines = [line.rstrip() for line in body.splitlines()]
    inner = "\n".join(f"{pad}{line}" if line else "" for line in lines[1:])
    return f'{pad}"""{lines[0]}\n{inner}\n{pad}"""'


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
