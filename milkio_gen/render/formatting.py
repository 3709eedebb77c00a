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


def _settings_dir(filename: Path) -> Path:
    """Ruff finds its settings from here up, as `ruff format <file>` would for the file."""
    directory = filename.parent.resolve()
    while not directory.is_dir():
        directory = directory.parent
    return directory


def format_python(source: str, filename: Path, project_root: Path) -> str:
    """Sort imports, drop the unused ones and format, under the ruff settings of the output."""
    target = filename if filename.is_absolute() else project_root / filename
    cwd = _settings_dir(target)
    name = str(target)
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
        cwd,
    )
    return _run(["format", "--quiet", "--stdin-filename", name, "-"], fixed, cwd)
