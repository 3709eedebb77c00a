"""TSON, the JSON superset of the wire protocol, written and read by type.

Values JSON cannot carry travel as strings with a `t!<type>:` prefix: `t!Date:` before the
ISO text of a datetime, `t!bigint:` before an int beyond JavaScript's safe range. Which
values get a prefix, or lose one, is decided by the declared type's JSON Schema, never by the
text: a `str` field may hold `"t!Date:..."` and stay a string. Everything else keeps
pydantic's JSON semantics, and values whose type holds no datetime and no int take
pydantic's fast path untouched.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar, cast

import orjson
from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode
from pydantic_core import PydanticSerializationError

from . import exact_json
from .tson_plan import Plan, build_plans, json_kind

__all__ = ["MAX_SAFE_INTEGER", "PlanCompiler", "Tson"]

T = TypeVar("T")

MAX_SAFE_INTEGER = 2**53 - 1
"""JavaScript's `Number.MAX_SAFE_INTEGER`: ints beyond it travel as `t!bigint:`."""

DATE = "t!Date:"
BIGINT = "t!bigint:"
MARKER = b'"t!'
_LONG_DIGITS = re.compile(rb"[0-9]{16,}")
_MAX_SAFE_DIGITS = str(MAX_SAFE_INTEGER).encode()


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
        try:
            return int(value[len(BIGINT) :])
        except ValueError:
            return value  # left for pydantic to report, with its location
    return value


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

    def loads(self, data: bytes) -> T:
        """Validate TSON bytes into the type; raises `pydantic.ValidationError`."""
        receive = self._receive
        if isinstance(receive, _Unset):
            receive = self._receiving()
        if receive is None or MARKER not in data:
            return self._validator.validate_json(data)
        plain = receive(exact_json.loads(data))
        return self._adapter.validate_json(orjson.dumps(exact_json.writable(plain)))
