"""One API as the server runs it: its function, signature and the adapters that check its values."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from ...api import get_definition
from ...fails import BUILTIN_FAIL_CODES, FailCode, FailCodes, TypeSafeErrorData
from ...signature import ApiSignature, read_signature
from .. import tson
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
        self._adapters: dict[str, TypeAdapter[Any]] = {}

    def make(self, code: str, data: Any = None) -> Fail:
        """Raises `KeyError` for an unknown code and `ValidationError` for data of a wrong type."""
        fail_code = self._codes[code]
        adapter = self._adapters.get(code)
        if adapter is None:
            adapter = self._adapters[code] = TypeAdapter(fail_code.data_type)
        data = adapter.validate_python(data)
        encoded = tson.dumps(adapter.dump_python(data, mode="python", by_alias=True))
        return Fail(code, fail_code.message(data), encoded)


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
    params_adapter: TypeAdapter[Any] | None
    output_adapter: TypeAdapter[Any]

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
            params_adapter=None if params is None else TypeAdapter(params),
            output_adapter=TypeAdapter(signature.output_type),
        )

    @property
    def is_stream(self) -> bool:
        return self.signature.kind == "stream"

    def parse_params(self, body: bytes) -> Any:
        """Validate the request body (TSON) into the params type; raise `ParamsRejected`."""
        if self.params_adapter is None:
            return None
        try:
            return self.params_adapter.validate_json(tson.json_bytes(body or b"{}"))
        except ValidationError as error:
            raise ParamsRejected(type_safe_error(error.errors()[0])) from None
        except (ValueError, orjson.JSONDecodeError):
            raise ParamsRejected(
                TypeSafeErrorData(path="$input", expected="valid JSON", value=None)
            ) from None

    def call(self, params: Any, context: Any) -> Any:
        arguments: list[Any] = [] if self.params_adapter is None else [params]
        if self.signature.takes_context:
            arguments.append(context)
        return self.function(*arguments)

    def encode_output(self, value: Any) -> bytes:
        """TSON of a chunk or result; a value that does not match its type raises."""
        dumped = self.output_adapter.dump_python(
            value, mode="python", by_alias=True, warnings="error"
        )
        return tson.dumps(dumped)
