"""One API as the server runs it: its function, signature and the adapters that check its values."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ...api import get_definition
from ...fails import BUILTIN_FAIL_CODES, FailCode, FailCodes, TypeSafeErrorData
from ...meta import ApiMeta, MetaError, validate_meta
from ...signature import ApiSignature, read_signature
from ..tson import Tson
from ..type_safe import type_safe_error

__all__ = ["API_ROUTE", "ApiBinding", "ApiRoute", "Fail", "FailBook"]


@dataclass(frozen=True, slots=True)
class Fail:
    """A fail ready to be sent: its code, message and encoded data."""

    code: str
    message: str
    data: bytes


class FailBook:
    """Turns a code and its data into a `Fail`, for built-in and app codes alike."""

    def __init__(self, fail_codes: FailCodes | None) -> None:
        self._codes: dict[str, FailCode[Any]] = dict(BUILTIN_FAIL_CODES)
        self._codes.update({fail.code: fail for fail in fail_codes or ()})
        self._codecs: dict[str, Tson[Any]] = {}

    def make(self, code: str, data: Any = None) -> Fail:
        """Raises `KeyError` for an unknown code and `ValidationError` for data of a wrong type."""
        fail_code = self._codes[code]
        codec = self._codecs.get(code)
        if codec is None:
            codec = self._codecs[code] = Tson(fail_code.data_type)
        data = codec.adapter.validate_python(data)
        return Fail(code, fail_code.message(data), codec.dumps(data))


class ParamsRejected(Exception):
    def __init__(self, data: TypeSafeErrorData) -> None:
        super().__init__(data.path)
        self.data = data


@dataclass(frozen=True, slots=True)
class ApiBinding:
    path: str
    function: Callable[..., Any]
    declared_meta: ApiMeta | Mapping[str, Any]
    """The `meta` given to `define_api`, as given."""
    meta: ApiMeta
    """It as the app's meta model: `ApiMeta` until `with_meta_type` names the app's own."""
    signature: ApiSignature
    params: Tson[Any] | None
    output: Tson[Any]

    @classmethod
    def create(cls, path: str, function: Callable[..., Any]) -> ApiBinding:
        definition = get_definition(function)
        signature = read_signature(function)
        params = signature.params_type
        declared: ApiMeta | Mapping[str, Any] = definition.meta if definition else {}
        return cls(
            path=path,
            function=function,
            declared_meta=declared,
            meta=validate_meta(ApiMeta, declared) if _is_plain(declared) else ApiMeta(),
            signature=signature,
            params=None if params is None else Tson(params),
            output=Tson(signature.output_type),
        )

    def with_meta_type(self, meta_type: type[ApiMeta]) -> ApiBinding:
        """This API with its `meta` read as the app's meta model; raises `MetaError`, which
        says to pass the app's hooks when their model is what the meta needs."""
        try:
            meta = validate_meta(meta_type, self.declared_meta)
        except MetaError as error:
            hint = (
                ": give `create_router` the app's `hooks` (the generated server's `hooks`), "
                "whose context class names the meta model"
                if meta_type is ApiMeta
                else ""
            )
            problems = [f"{self.path}: {problem}{hint}" for problem in error.problems]
            raise MetaError(problems) from None
        return dataclasses.replace(self, meta=meta)

    @property
    def max_duration(self) -> float | None:
        """Seconds a stream of this API may run: `define_api(meta={"max_duration": 300})`."""
        return self.meta.max_duration

    @property
    def is_stream(self) -> bool:
        return self.signature.kind == "stream"

    def parse_params(self, body: bytes) -> Any:
        """Validate the request body (TSON) into the params type; raise `ParamsRejected`."""
        if self.params is None:
            return None
        try:
            # Strict, as the clients' types are and Milkio's own server is: a value of another
            # JSON type (`"5"` or `true` for a number) is refused, not converted.
            return self.params.loads(body or b"{}", strict=True)
        except ValidationError as error:  # `Tson.loads` raises no other error for a body
            raise ParamsRejected(type_safe_error(error.errors()[0])) from None

    def call(self, params: Any, context: Any) -> Any:
        arguments: list[Any] = [] if self.params is None else [params]
        if self.signature.takes_context:
            arguments.append(context)
        return self.function(*arguments)

    def encode_output(self, value: Any) -> bytes:
        """TSON of a chunk or result; a value that does not match its type raises."""
        return self.output.dumps(value)


def _is_plain(meta: ApiMeta | Mapping[str, Any]) -> bool:
    """Whether `meta` holds only the keys `ApiMeta` knows, so it can be read before the app's
    meta model is known."""
    keys = meta.model_fields_set if isinstance(meta, ApiMeta) else meta.keys()
    return set(keys) <= ApiMeta.model_fields.keys()


API_ROUTE = "milkio_gen.api"
"""The `opt` key of an API's route handler, holding its `ApiRoute`."""


@dataclass(frozen=True, slots=True)
class ApiRoute:
    """An API as its route serves it: the binding, and the app fail codes its router knows."""

    binding: ApiBinding
    fail_codes: FailCodes | None
