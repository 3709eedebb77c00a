"""One API as the server runs it: its function, signature and the adapters that check its values."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from ...api import get_definition
from ...fails import BUILTIN_FAIL_CODES, FailCode, FailCodes, TypeSafeErrorData
from ...signature import ApiSignature, read_signature
from ..tson import Tson
from ..type_safe import type_safe_error

__all__ = ["ApiBinding", "Fail", "FailBook"]


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
    meta: Mapping[str, Any]
    signature: ApiSignature
    params: Tson[Any] | None
    output: Tson[Any]

    @classmethod
    def create(cls, path: str, function: Callable[..., Any]) -> ApiBinding:
        definition = get_definition(function)
        signature = read_signature(function)
        params = signature.params_type
        return cls(
            path=path,
            function=function,
            meta=definition.meta if definition else {},
            signature=signature,
            params=None if params is None else Tson(params),
            output=Tson(signature.output_type),
        )

    @property
    def max_duration(self) -> float | None:
        """Seconds a stream of this API may run: `define_api(meta={"max_duration": 300})`."""
        value = self.meta.get("max_duration")
        return float(value) if isinstance(value, int | float) else None

    @property
    def is_stream(self) -> bool:
        return self.signature.kind == "stream"

    def parse_params(self, body: bytes) -> Any:
        """Validate the request body (TSON) into the params type; raise `ParamsRejected`."""
        if self.params is None:
            return None
        try:
            return self.params.loads(body or b"{}")
        except ValidationError as error:
            raise ParamsRejected(type_safe_error(error.errors()[0])) from None
        except (ValueError, orjson.JSONDecodeError):
            raise ParamsRejected(
                TypeSafeErrorData(path="$input", expected="valid JSON", value=None)
            ) from None

    def call(self, params: Any, context: Any) -> Any:
        arguments: list[Any] = [] if self.params is None else [params]
        if self.signature.takes_context:
            arguments.append(context)
        return self.function(*arguments)

    def encode_output(self, value: Any) -> bytes:
        """TSON of a chunk or result; a value that does not match its type raises."""
        return self.output.dumps(value)
