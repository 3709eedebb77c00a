"""Formatting generated Python with ruff, so it reads as if written by hand and passes lint."""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path

__all__ = ["FormattingFailed", "format_python"]


class FormattingFailed(Exception):
    """Ruff could not parse what a template produced: a bug in a template."""


@cache
def _ruff() -> str:
    try:
        from ruff.__main__ import find_ruff_bin  # pyright: ignore[reportMissingTypeStubs]

        return str(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        return str(Path(sys.executable).with_name("ruff"))


def _run(arguments: list[str], source: str, cwd: Path) -> str:
    completed = subprocess.run(
        [_ruff(), *arguments],
        input=source,
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )
    if completed.returncode not in (0, 1):
        raise FormattingFailed(completed.stderr.strip())
    return completed.stdout


def format_python(source: str, filename: Path, project_root: Path) -> str:
    """Sort imports, drop the unused ones and format, under the project's own ruff settings."""
    name = str(filename)
    fixed = _run(
        [
            "check",
            "--fix",
            "--select",
            "I,F401",
            "--exit-zero",
            "--quiet",
            "--stdin-filename",
            name,
            "-",
        ],
        source,
        project_root,
    )
    return _run(["format", "--quiet", "--stdin-filename", name, "-"], fixed, project_root)
