"""`ApiMeta`: the typed `meta` of an API, which hooks and the server read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["ApiMeta", "MetaError", "validate_meta"]


class ApiMeta(BaseModel):
    """What `define_api(meta=...)` may say about an API.

    An app that gives its hooks more to read declares its own model once, beside its
    context, and the build checks every API's `meta` against it:

    ```python
    class Meta(ApiMeta):
        auth: Literal["public", "user"] = "public"

    class AppContext(Context[Meta]): ...
    ```
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_duration: float | None = Field(
        default=None,
        gt=0,
        description="Seconds a stream may run before it ends with the retryable "
        "`STREAM_DEADLINE` fail; the client calls again to continue. None: no limit.",
    )


class MetaError(ValueError):
    """An API's `meta` that its app's meta model refuses."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def validate_meta(model: type[ApiMeta], meta: ApiMeta | Mapping[str, Any]) -> ApiMeta:
    """`meta` as an instance of `model`; raise `MetaError` naming each wrong key."""
    if isinstance(meta, model):
        return meta
    raw = meta.model_dump(exclude_unset=True) if isinstance(meta, ApiMeta) else dict(meta)
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise MetaError(
            [
                f"{'.'.join(str(part) for part in problem['loc']) or 'meta'}: {problem['msg']}"
                for problem in error.errors(include_url=False)
            ]
        ) from None
