"""Settings of a deployment: given at build time (from pyproject.toml, written into the
generated server), and overridden by environment variables at start-up, so that the same
build runs anywhere and every worker reads the same values."""

from __future__ import annotations

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

__all__ = ["EnvironmentFirst"]


class EnvironmentFirst(BaseSettings):
    """Settings whose environment variables win over the values they are given."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)
