"""Build settings: `[tool.milkio-gen]` in pyproject.toml, overridden by command-line flags."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
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
    channels: dict[str, Any] = field(default_factory=dict[str, Any])
    """`[tool.milkio-gen.channels]`: the channels broker's options, which the generated server
    passes to `ChannelSettings` (and the environment overrides)."""
    http: dict[str, Any] = field(default_factory=dict[str, Any])
    """`[tool.milkio-gen.http]`: CORS and served directories, which the generated server
    passes to `HttpSettings` (and the environment overrides)."""
    server: dict[str, Any] = field(default_factory=dict[str, Any])
    """`[tool.milkio-gen.server]`: limits, buffers and timers, which the generated server
    passes to `ServerSettings` (and the environment overrides)."""


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
        channels=_section(table, "channels"),
        http=_section(table, "http"),
        server=_section(table, "server"),
    )


def _section(table: dict[str, Any], name: str) -> dict[str, Any]:
    """`[tool.milkio-gen.<name>]`, checked: what was set, for the generated server."""
    from pydantic import BaseModel, ValidationError

    from .channels.settings import ChannelOptions
    from .http_settings import HttpOptions
    from .server_settings import ServerOptions

    models: dict[str, type[BaseModel]] = {
        "channels": ChannelOptions,
        "http": HttpOptions,
        "server": ServerOptions,
    }
    model = models[name]
    section = table.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"[tool.milkio-gen.{name}] in pyproject.toml must be a table")
    try:
        options = model.model_validate(section)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}" for problem in error.errors()
        )
        raise ConfigError(f"[tool.milkio-gen.{name}] in pyproject.toml: {problems}") from None
    return options.model_dump(exclude_unset=True)
