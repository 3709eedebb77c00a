"""Build settings: `[tool.milkio-gen]` in pyproject.toml, overridden by command-line flags."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["BuildConfig", "ConfigError", "load_config"]

DEFAULT_SCHEMA = Path("schema/manifest.json")
DEFAULT_OUT = Path("generated")


class ConfigError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class BuildConfig:
    root: Path
    """The project directory: where pyproject.toml is, and where the app is imported from."""
    app: str
    schema: Path
    """The manifest file, relative to `root` unless absolute."""
    out: Path
    """The generated package's directory, relative to `root` unless absolute."""


def _table(root: Path) -> dict[str, Any]:
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return {}
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    table = data.get("tool", {}).get("milkio-gen", {})
    if not isinstance(table, dict):
        raise ConfigError("[tool.milkio-gen] in pyproject.toml must be a table")
    return table  # pyright: ignore[reportUnknownVariableType]


def load_config(
    root: Path,
    *,
    app: str | None = None,
    schema: Path | None = None,
    out: Path | None = None,
) -> BuildConfig:
    table = _table(root)
    app = app or table.get("app")
    if not app:
        raise ConfigError(
            'no app package given: pass --app my_app, or set `app = "my_app"` under '
            "[tool.milkio-gen] in pyproject.toml"
        )
    return BuildConfig(
        root=root,
        app=str(app),
        schema=schema or Path(table.get("schema", DEFAULT_SCHEMA)),
        out=out or Path(table.get("out", DEFAULT_OUT)),
    )
