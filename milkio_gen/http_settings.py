"""How the server meets browsers: which other origins' pages may call it (CORS), and which
directories it serves as pages. Read from `[tool.milkio-gen.http]` at build time and from
`MILKIO_HTTP_*` environment variables at start-up, which win, so `milkio-gen serve` options
and deployments reach every worker without a new build."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import SettingsConfigDict

from .environment import EnvironmentFirst

if TYPE_CHECKING:
    from litestar import Router
    from litestar.config.cors import CORSConfig

__all__ = ["HttpOptions", "HttpSettings"]

logger = logging.getLogger("milkio_gen.server")

_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s]+")


class HttpOptions(BaseModel):
    """The server's HTTP options, as `[tool.milkio-gen.http]` gives them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cors_origins: list[str] = Field(default_factory=list[str])
    """Origins whose pages may call the APIs (`"https://app.example.com"`, or `"*"` for any);
    none: only pages of the server's own origin. A stream's preflight (a POST of JSON that
    accepts `text/event-stream`) passes for these."""
    cors_headers: list[str] = Field(default_factory=lambda: ["*"])
    """Request headers those pages may send beyond the safelisted ones (`Content-Type`,
    `Last-Event-ID`, `Authorization`, headers of your own); `"*"`: any."""
    cors_credentials: bool = False
    """Let those pages send cookies and HTTP authentication; the origins must then be listed,
    not `"*"`."""
    cors_max_age: int = Field(default=600, ge=0)
    """Seconds a browser may keep a preflight's answer."""
    static: dict[str, str] = Field(default_factory=dict[str, str])
    """Directories served as they are, by URL path (`{"/web" = "web/dist"}`), relative to the
    directory the server runs in; `index.html` answers for a directory."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for origin in self.cors_origins:
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"cors_origins: {origin!r} is not an origin: write scheme://host[:port], "
                    "with no path and no trailing slash, or '*'"
                )
        if self.cors_credentials and "*" in self.cors_origins:
            raise ValueError(
                "cors_credentials needs the origins listed: browsers refuse credentials with '*'"
            )
        for path in self.static:
            if not path.startswith("/"):
                raise ValueError(f"static: {path!r} is not a URL path: start it with '/'")
        return self


class HttpSettings(EnvironmentFirst, HttpOptions):  # pyright: ignore[reportIncompatibleVariableOverride]
    """The server's HTTP options, where `MILKIO_HTTP_*` environment variables (JSON for lists
    and tables: `MILKIO_HTTP_CORS_ORIGINS='["https://app.example.com"]'`) override those given.
    """

    model_config = SettingsConfigDict(
        env_prefix="MILKIO_HTTP_", env_parse_none_str="null", extra="forbid", frozen=True
    )

    def cors_config(self) -> CORSConfig | None:
        """Litestar's CORS for the listed origins; None when there are none."""
        from litestar.config.cors import CORSConfig

        if not self.cors_origins:
            return None
        return CORSConfig(
            allow_origins=self.cors_origins,
            allow_methods=["POST"],
            allow_headers=self.cors_headers,
            allow_credentials=self.cors_credentials,
            max_age=self.cors_max_age,
        )

    def static_routers(self) -> list[Router]:
        """A router per served directory; a directory that does not exist is skipped, with a
        warning, so that a server without its built pages still serves its APIs."""
        from litestar.static_files import (
            create_static_files_router,  # pyright: ignore[reportUnknownVariableType]
        )

        routers: list[Router] = []
        for path, directory in sorted(self.static.items()):
            if not Path(directory).is_dir():
                logger.warning("not serving %s: no directory %s", path, Path(directory).resolve())
                continue
            name = f"static:{path}"
            routers.append(create_static_files_router(path, [directory], html_mode=True, name=name))
        return routers
