"""`milkio-gen new`: a complete project to start from, built and tested as it is made.

The project's files are Jinja templates under `files/`, their paths as they are written
(`__package__` stands for the package's name, `gitignore` for `.gitignore`).
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

__all__ = ["ScaffoldError", "create_project"]

FILES = Path(__file__).parent / "files"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


class ScaffoldError(Exception):
    """A project cannot be made there, or by that name: the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Project:
    root: Path
    name: str
    package: str
    files: list[Path]
    """The files written, relative to `root`, sorted."""


def create_project(root: Path, name: str | None = None) -> Project:
    """Write a new project into `root` (made if missing, refused unless empty), then build
    its manifest and generated code. `name` defaults to the directory's name."""
    name = name or root.resolve().name
    if not _NAME.match(name):
        raise ScaffoldError(
            f"{name!r} is not a project name: use letters, digits, '-' and '_', "
            "starting with a letter (for example `shop`)"
        )
    package = name.replace("-", "_").lower()
    if keyword.iskeyword(package):
        raise ScaffoldError(f"{name!r} is a Python keyword: choose another name")
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ScaffoldError(f"{root} is not an empty directory: give a new or empty one")

    environment = Environment(
        loader=FileSystemLoader(FILES),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # Python, TOML and Markdown, not HTML
    )
    written: list[Path] = []
    for template in sorted(FILES.rglob("*.jinja")):
        relative = template.relative_to(FILES).with_suffix("")
        parts = [package if part == "__package__" else part for part in relative.parts]
        if parts[-1] == "gitignore":
            parts[-1] = ".gitignore"
        target = root.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = environment.get_template(template.relative_to(FILES).as_posix()).render(
            name=name, package=package
        )
        target.write_text(text)
        written.append(target.relative_to(root))

    from ..build import build
    from ..config import load_config

    report = build(load_config(root.resolve()))
    written += report.written  # relative to the project already
    return Project(root=root, name=name, package=package, files=sorted(written))
