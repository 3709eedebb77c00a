"""TSON, the JSON superset of the wire protocol, written and read by type.

Values JSON cannot carry travel as strings with a `t!<type>:` prefix: `t!Date:` before the
ISO text of a datetime, `t!bigint:` before an int beyond JavaScript's safe range. Which
values get a prefix, or lose one, is decided by the declared type's JSON Schema, never by the
text: a `str` field may hold `"t!Date:..."` and stay a string. Everything else keeps
pydantic's JSON semantics, and values whose type holds no datetime and no int take
pydantic's fast path untouched.
"""

from __future__ import annotations

import contextlib
import json
import re
import warnings
from collections.abc import Callable
from typing import Any, Generic, Literal, LiteralString, TypeVar, cast

from pydantic import TypeAdapter, ValidationError
from pydantic.json_schema import JsonSchemaMode
from pydantic_core import (
    InitErrorDetails,
    PydanticCustomError,
    PydanticSerializationError,
    from_json,
    to_json,
)

from . import exact_json
from .tson_plan import Plan, build_plans, json_kind

__all__ = ["FEW_ERRORS", "MAX_DEPTH", "MAX_DIGITS", "MAX_SAFE_INTEGER", "PlanCompiler", "Tson"]

T = TypeVar("T")

MAX_SAFE_INTEGER = 2**53 - 1
"""JavaScript's `Number.MAX_SAFE_INTEGER`: ints beyond it travel as `t!bigint:`."""

MAX_DEPTH = 200
"""Arrays and objects nested deeper than this are refused. It is the limit of pydantic-core's
JSON parser, which reads every document `Tson.loads` is given; it keeps the walk of a parsed
value in Python within the interpreter's recursion limit."""

FEW_ERRORS = 100
"""A value with more validation errors keeps only its first (see `Tson.loads`)."""

MAX_DIGITS = 4300
"""Numbers with more digits are refused, as pydantic-core's parser does: reading an integer
takes time quadratic in its digits (Python's own `int()` stops at the same length)."""

_DEPTH_EXPECTED = f"JSON nested at most {MAX_DEPTH} levels"

DATE = "t!Date:"
BIGINT = "t!bigint:"
MARKER = b'"t!'
_LONG_DIGITS = re.compile(rb"[0-9]{16,}")
_MAX_SAFE_DIGITS = str(MAX_SAFE_INTEGER).encode()
_INTEGER_TEXT = re.compile(rf"-?[0-9]{{1,{MAX_DIGITS}}}")


def _may_hold_unsafe_int(data: bytes) -> bool:
    """Whether JSON text may hold an integer beyond 2^53: a run of more digits than it has,
    or as many and larger (a timestamp in microseconds has 16 digits and is safe)."""
    for run in _LONG_DIGITS.findall(data):
        if len(run) > len(_MAX_SAFE_DIGITS) or run > _MAX_SAFE_DIGITS:
            return True
    return False


Direction = Literal["send", "receive"]
Transform = Callable[[Any], Any]
Schema = dict[str, Any]


def _send_date(value: Any) -> Any:
    return DATE + value if type(value) is str else value


def _receive_date(value: Any) -> Any:
    return value[len(DATE) :] if type(value) is str and value.startswith(DATE) else value


def _send_int(value: Any) -> Any:
    if type(value) is int and not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return f"{BIGINT}{value}"
    return value


def _send_bigint(value: Any) -> Any:
    return f"{BIGINT}{value}" if type(value) is int else value


def _receive_int(value: Any) -> Any:
    if type(value) is str and value.startswith(BIGINT):
        text = value[len(BIGINT) :]
        # Only what JavaScript's BigInt writes (int() would take "1_000" and " 12 "), and no
        # longer than the parser's numbers: int() is quadratic in the digits, and an app may
        # have lifted the interpreter's own limit.
        if _INTEGER_TEXT.fullmatch(text):
            with contextlib.suppress(ValueError):
                return int(text)
    return value  # anything else is left for pydantic to report, with its location


def _text_receiver(*prefixes: str) -> Transform:
    """Milkio's clients send URLs and byte arrays as prefixed text; the type wants the text."""

    def receive(value: Any) -> Any:
        if type(value) is str:
            for prefix in prefixes:
                if value.startswith(prefix):
                    return value[len(prefix) :]
        return value

    return receive


_LEAVES: dict[Direction, dict[str, Transform | None]] = {
    "send": {"date": _send_date, "int": _send_int, "bigint": _send_bigint, "url": None,
             "bytes": None},
    "receive": {"date": _receive_date, "int": _receive_int, "bigint": _receive_int,
                "url": _text_receiver("t!URL:"),
                "bytes": _text_receiver("t!Uint8Array:", "t!ArrayBuffer:")},
}  # fmt: skip


class PlanCompiler:
    """Turns plans into functions for one direction; `None` where nothing is to be done.

    `leaves` replaces what the leaf nodes do, for tools that read TSON another way.
    """

    def __init__(
        self,
        defs: dict[str, Plan],
        direction: Direction,
        leaves: dict[str, Transform | None] | None = None,
    ) -> None:
        self._defs = defs
        self._direction: Direction = direction
        self._leaves = leaves if leaves is not None else _LEAVES[direction]
        self._compiled: dict[str, Transform | None] = {}
        self._compiling: set[str] = set()

    def compile(self, plan: Plan | None) -> Transform | None:
        if plan is None:
            return None
        if isinstance(plan, str):
            return self._leaves[plan]
        if "ref" in plan:
            return self._ref(plan["ref"])
        if "object" in plan:
            return self._object(plan)
        if "array" in plan:
            each = self.compile(plan["array"])
            return None if each is None else _walk_array([], each)
        if "tuple" in plan:
            positional = [self.compile(item) for item in plan["tuple"]]
            rest = self.compile(plan.get("rest"))
            return None if rest is None and not any(positional) else _walk_array(positional, rest)
        if "tagged" in plan:
            return self._tagged(plan)
        return self._union(plan)

    def _ref(self, name: str) -> Transform | None:
        compiled = self._compiled
        if name not in compiled:
            compiled[name] = _identity  # a placeholder while recursing
            self._compiling.add(name)
            compiled[name] = self.compile(self._defs[name]) or _identity
            self._compiling.discard(name)
        if compiled[name] is _identity and name not in self._compiling:
            return None  # nothing to do in it: nothing to do where it is used either
        return lambda value: cast(Transform, compiled[name])(value)

    def _object(self, plan: dict[str, Any]) -> Transform | None:
        properties = {
            name: transform
            for name, sub in cast(dict[str, Plan], plan["object"]).items()
            if (transform := self.compile(sub)) is not None
        }
        rest = self.compile(plan.get("rest"))
        if not properties and rest is None:
            return None

        def walk_object(value: Any) -> Any:
            if type(value) is not dict:
                return value
            items = cast(dict[str, Any], value)
            result = dict(items)
            for name, item in items.items():
                transform = properties.get(name, rest)
                if transform is not None:
                    result[name] = transform(item)
            return result

        return walk_object

    def _tagged(self, plan: dict[str, Any]) -> Transform | None:
        field = cast(str, plan["tagged"])
        cases = {
            tag: transform
            for tag, sub in cast(dict[str, Plan], plan["cases"]).items()
            if (transform := self.compile(sub)) is not None
        }
        if not cases:
            return None

        def walk_tagged(value: Any) -> Any:
            if type(value) is not dict:
                return value
            tag = cast(dict[str, Any], value).get(field)
            transform = cases.get(tag) if isinstance(tag, str) else None
            return transform(value) if transform is not None else cast(Any, value)

        return walk_tagged

    def _union(self, plan: dict[str, Any]) -> Transform | None:
        by_kind = {
            kind: transform
            for kind, sub in cast(dict[str, Plan], plan["union"]).items()
            if (transform := self.compile(sub)) is not None
        }
        receiving = self._direction == "receive"
        if not receiving and plan.get("plainString"):
            by_kind.pop("string", None)  # a plain string is an option: send strings as they are
        if not by_kind:
            return None

        def walk_union(value: Any) -> Any:
            kind = json_kind(value)
            if receiving and kind == "string" and value.startswith(BIGINT):
                kind = "integer"  # an int of the union, sent as TSON text
            transform = by_kind.get(kind)
            if transform is None and kind == "integer":
                transform = by_kind.get("number")
            return transform(value) if transform is not None else value

        return walk_union


def _walk_array(positional: list[Transform | None], rest: Transform | None) -> Transform:
    def walk_array(value: Any) -> Any:
        if type(value) is not list:
            return value
        result = list(cast(list[Any], value))
        for index, item in enumerate(result):
            transform = positional[index] if index < len(positional) else rest
            if transform is not None:
                result[index] = transform(item)
        return result

    return walk_array


def _identity(value: Any) -> Any:
    return value


# A value not of its type makes pydantic warn as it writes the value; raised from this
# module (and only from it), that warning is an error, which is what `dumps` checks with.
warnings.filterwarnings(
    "error", "Pydantic serializer warnings", UserWarning, r"milkio_gen\.runtime\.tson\Z"
)
_CHECK_FILTER = warnings.filters[0]
"""The check holds only while this filter comes first: an app's own filters (an "ignore"
put later, a test runner's) go before it, and then `dumps` asks pydantic to check."""


class _Unset:
    """Not read from the schema yet."""


_UNSET = _Unset()


class Tson(Generic[T]):
    """The TSON codec of one type: `dumps` a value to bytes, `loads` bytes to a value.

    What is TSON is read from the type's JSON Schema: its serialization schema for what is
    sent, its validation schema for what is received.
    """

    __slots__ = ("_adapter", "_receive", "_send", "_send_only_ints", "_serializer", "_validator")

    def __init__(self, type_: Any) -> None:
        self._adapter = TypeAdapter[T](type_)
        # Each direction is read from its schema on first use: a client only sends its params
        # and only receives its results, and a first call should not pay for both.
        self._send: Transform | _Unset | None = _UNSET
        self._receive: Transform | _Unset | None = _UNSET
        self._send_only_ints = False

    def _plans(self, mode: JsonSchemaMode) -> tuple[Plan | None, dict[str, Plan]]:
        schema = self._adapter.json_schema(mode=mode, ref_template="#/$defs/{model}")
        defs = cast(dict[str, Schema], schema.pop("$defs", {}))
        plans, plan_set = build_plans({"root": schema}, defs)
        return plans["root"], plan_set.defs

    def _sending(self) -> Transform | None:
        if isinstance(self._send, _Unset):
            root, defs = self._plans("serialization")
            self._send = PlanCompiler(defs, "send").compile(root)
            # Most types need TSON only for integers beyond 2^53, which are rare: pydantic
            # writes those types at once, and only a document that may hold such an integer
            # takes the walk.
            only_ints = {**_LEAVES["send"], "int": None}
            self._send_only_ints = (
                self._send is not None
                and PlanCompiler(defs, "send", only_ints).compile(root) is None
            )
            self._serializer = self._adapter.serializer  # complete now: called directly
        return self._send

    def _receiving(self) -> Transform | None:
        if isinstance(self._receive, _Unset):
            root, defs = self._plans("validation")
            self._receive = PlanCompiler(defs, "receive").compile(root)
            self._validator = self._adapter.validator  # complete now: called directly
        return self._receive

    def prepare(self) -> None:
        """Read both directions from the schema now rather than on first use (the first read
        also warms pydantic's schema machinery for every codec after it)."""
        self._sending()
        self._receiving()

    @property
    def adapter(self) -> TypeAdapter[T]:
        return self._adapter

    def dumps(self, value: T, *, check: bool = True) -> bytes:
        """TSON bytes of `value`; with `check`, a value not of the type raises."""
        send = self._send
        if isinstance(send, _Unset):
            send = self._sending()
        if not check:
            return self._dumps_unchecked(value, send)
        if (send is None or self._send_only_ints) and warnings.filters[0] is _CHECK_FILTER:
            # pydantic's own check is far slower when asked for by argument: its warnings are
            # made errors by the filter above instead.
            try:
                data = self._serializer.to_json(value, by_alias=True)
            except UserWarning as warning:
                raise PydanticSerializationError(str(warning)) from None
            if send is None or not _may_hold_unsafe_int(data):
                return data
        elif send is None:
            return self._adapter.dump_json(value, by_alias=True, warnings="error")
        data = self._adapter.dump_python(value, mode="json", by_alias=True, warnings="error")
        return exact_json.dumps(send(data))

    def _dumps_unchecked(self, value: T, send: Transform | None) -> bytes:
        if send is None:
            return self._adapter.dump_json(value, by_alias=True, warnings=False)
        data = self._adapter.dump_python(value, mode="json", by_alias=True, warnings=False)
        return exact_json.dumps(send(data))

    def loads(self, data: bytes, *, strict: bool | None = None) -> T:
        """Validate TSON bytes into the type; raises `pydantic.ValidationError`, and only it.
        `strict`: as pydantic's, a value of another JSON type is refused (`"5"` for an int)
        rather than converted.

        A document that is not JSON fails with one error at the root: `json_invalid`, or more
        precisely `json_utf8`, `json_depth` (nested beyond `MAX_DEPTH`), `json_digits` (a
        number beyond `MAX_DIGITS`) or `json_constant` (NaN or Infinity, which pydantic would
        read). A value with more than `FEW_ERRORS` errors fails with its first error alone.
        """
        receive = self._receive
        if isinstance(receive, _Unset):
            receive = self._receiving()
        try:
            if (b"NaN" in data or b"Infinity" in data) and _holds_non_json_constant(data):
                raise self._invalid("json_constant", "JSON without NaN or Infinity")
            if receive is not None and MARKER in data:
                # The same parser as pydantic's, so that a document is read alike with or
                # without TSON in it; written back with the infinities it read from 1e999.
                plain = from_json(data)
                try:
                    plain = receive(plain)
                except RecursionError:
                    # A walk takes a few frames a level (800 at MAX_DEPTH for the deepest type
                    # the tests know); a type of refs to refs, walked in an already deep stack,
                    # could still reach the interpreter's limit. The document is too deep.
                    raise self._invalid("json_depth", _DEPTH_EXPECTED) from None
                data = to_json(plain, inf_nan_mode="constants")
            try:
                return self._validator.validate_json(data, strict=strict)
            except ValidationError as error:
                if not strict or not _integral_floats_refused(error):
                    raise
                # JSON Schema and JavaScript hold 20.0 an integer, as Milkio's server does:
                # strict mode takes it once written as 20.
                return self._validator.validate_json(
                    to_json(_ints_for_integral_floats(from_json(data))), strict=True
                )
        except ValidationError as error:
            count = error.error_count()
            if count == 1:  # a document that is not JSON is one error
                first = error.errors(include_url=False)[0]
                if first["type"] == "json_invalid":
                    raise self._not_json(str(first.get("ctx", {}).get("error", "")), data) from None
            elif count > FEW_ERRORS:
                raise _first_error_only(error) from None
            raise
        except ValueError as error:  # from the parser
            raise self._not_json(str(error), data) from None

    def _not_json(self, message: str, data: bytes) -> ValidationError:
        """What is wrong with a document the parser refused, from its message."""
        if message.startswith("recursion limit exceeded"):
            return self._invalid("json_depth", _DEPTH_EXPECTED)
        if message.startswith("number out of range"):
            return self._invalid("json_digits", f"numbers of at most {MAX_DIGITS} digits")
        try:
            data.decode()
        except UnicodeDecodeError:
            return self._invalid("json_utf8", "valid UTF-8")
        error = InitErrorDetails(type="json_invalid", loc=(), input=data, ctx={"error": message})
        return ValidationError.from_exception_data(self._validator.title, [error], "json")

    def _invalid(self, kind: LiteralString, expected: str) -> ValidationError:
        return _one_error(self._validator.title, kind, expected, (), None)


def _first_error_only(error: ValidationError) -> ValidationError:
    """`error` with its first error alone, which is all the protocol reports.

    A MiB of wrong items is half a million errors: pydantic makes them in a fifth of a second,
    but `errors()` takes seconds to make them Python dicts, holding the server's only thread.
    Its JSON form is several times faster, and only the first error of it is read back.
    """
    first, _ = json.JSONDecoder().raw_decode(error.json(include_url=False), 1)
    detail = cast(dict[str, Any], first)
    return _one_error(
        error.title, detail["type"], detail["msg"], tuple(detail["loc"]), detail.get("input")
    )


def _one_error(
    title: str, kind: str, message: str, loc: tuple[int | str, ...], value: Any
) -> ValidationError:
    """A validation error of one error, whose message is given as it is to be read (without
    a context, pydantic leaves braces in it alone)."""
    error_type = PydanticCustomError(cast(LiteralString, kind), cast(LiteralString, message))
    error = InitErrorDetails(type=error_type, loc=loc, input=value)
    return ValidationError.from_exception_data(title, [error], "json")


def _holds_non_json_constant(data: bytes) -> bool:
    """Whether `data` is JSON but for NaN or Infinity outside its strings."""
    try:
        from_json(data, allow_inf_nan=False)
    except ValueError:
        try:
            from_json(data)
        except ValueError:
            return False  # not JSON for another reason, which validation reports
        return True
    return False


def _integral_floats_refused(error: ValidationError) -> bool:
    """Whether a strict validation refused a number like 20.0 where an int was due."""
    if error.error_count() > FEW_ERRORS:
        return False
    return any(
        problem["type"] == "int_type"
        and isinstance(problem["input"], float)
        and problem["input"].is_integer()
        for problem in error.errors(include_url=False)
    )


def _ints_for_integral_floats(value: Any) -> Any:
    """`value` with every float that is a whole number as an int: a strict float takes an
    int, so only int fields see a difference."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, list):
        return [_ints_for_integral_floats(item) for item in cast(list[Any], value)]
    if isinstance(value, dict):
        items = cast(dict[str, Any], value).items()
        return {key: _ints_for_integral_floats(item) for key, item in items}
    return value
