"""The manifest: the one description of every API, from which every generator works.

It is plain JSON (`schema/manifest.json`), described by its own JSON Schema
(`schema/manifest.schema.json`, made from the models below), and validated on every write and
read. Types are JSON Schemas whose `$ref`s point into the shared `$defs`.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "MANIFEST_VERSION",
    "ApiEntry",
    "ChannelEntry",
    "FailCodeEntry",
    "HookEntry",
    "Manifest",
    "SourceRef",
]

MANIFEST_VERSION = 1

JsonSchema = dict[str, Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True)


class SourceRef(_Strict):
    """Where a definition is written, relative to the project root."""

    file: str
    line: int


class PythonRef(_Strict):
    """What a generated server imports to reach a definition."""

    module: str
    name: str


class ApiEntry(_Strict):
    """One API."""

    path: str = Field(description="The URL path after the base URL, such as `chat/send`.")
    kind: Literal["plain", "stream"]
    doc: str | None = Field(description="The action's docstring.")
    meta: dict[str, Any] = Field(
        description="The `meta` given to `define_api`, checked against the app's meta model."
    )
    python: PythonRef
    source: SourceRef | None
    params: JsonSchema | None = Field(description="Schema of the params; null: takes none.")
    chunk: JsonSchema | None = Field(default=None, description="Schema of each chunk (stream).")
    result: JsonSchema | None = Field(default=None, description="Schema of the result (plain).")
    tracked: bool = Field(
        default=False, description="Its chunks carry event ids: a client can resume after one."
    )

    @model_validator(mode="after")
    def _output_matches_kind(self) -> ApiEntry:
        if (self.kind == "stream") != (self.chunk is not None) or (self.kind == "plain") != (
            self.result is not None
        ):
            raise ValueError("a stream API has a `chunk` schema, a plain API a `result` schema")
        return self


class FailCodeEntry(_Strict):
    """One fail code an API may end with."""

    code: str
    builtin: bool
    retryable: bool = Field(description="Whether calling again may succeed.")
    doc: str | None
    data: JsonSchema = Field(description="Schema of the fail's `data`.")


class ChannelEntry(_Strict):
    """A channel the app declares (`Channel(name, type)`): actions publish to it, or to its
    keyed channels `name:key`, and stream actions subscribe to it."""

    name: str
    python: PythonRef
    source: SourceRef | None
    message: JsonSchema = Field(description="Schema of each message.")


class HookEntry(_Strict):
    """One hook of the app, listed in the order hooks of its kind run."""

    kind: Literal["before_execute", "on_chunk", "after_execute"]
    python: PythonRef
    source: SourceRef | None


class Manifest(_Strict):
    schema_: str = Field(
        default="./manifest.schema.json",
        validation_alias="$schema",
        serialization_alias="$schema",
    )
    manifest_version: Literal[1] = MANIFEST_VERSION
    app: str = Field(description="The app package the manifest was extracted from.")
    fail_codes_python: PythonRef | None = Field(
        description="The app's `FailCodes` object, when it declares codes of its own."
    )
    hooks_python: PythonRef | None = Field(
        default=None, description="The app's `Hooks` object, when it declares one."
    )
    hooks: list[HookEntry] = Field(default_factory=list[HookEntry])
    meta: JsonSchema | None = Field(
        default=None, description="Schema of every API's `meta`: the app's meta model."
    )
    apis: list[ApiEntry]
    fail_codes: list[FailCodeEntry]
    channels: list[ChannelEntry] = Field(default_factory=list[ChannelEntry])
    defs: dict[str, JsonSchema] = Field(validation_alias="$defs", serialization_alias="$defs")

    def to_json(self) -> bytes:
        """Stable bytes: keys in a fixed order, two-space indents, a final newline."""
        data = self.model_dump(mode="json", by_alias=True)
        return orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"

    @classmethod
    def from_json(cls, data: bytes | str) -> Manifest:
        return cls.model_validate_json(data)

    @staticmethod
    def json_schema_bytes() -> bytes:
        schema = Manifest.model_json_schema(by_alias=True)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        return orjson.dumps(schema, option=orjson.OPT_INDENT_2) + b"\n"
