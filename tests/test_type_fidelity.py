"""Every type of the corpus round-trips exactly: server type -> wire -> generated client type,
and client params -> wire -> server type. Values are drawn by hypothesis."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_origin

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from milkio_gen.runtime.tson import PlanCompiler, Tson
from milkio_gen.runtime.tson_plan import build_plans
from pydantic import TypeAdapter

from tests.conftest import (
    GeneratedPackage,
    RunningServer,
    build_package,
    lint_and_type_check,
    serve_in_thread,
)
from tests.corpus_app import echo
from tests.corpus_app.types import CORPUS, Address, Item, Page, Person, Point, Tree

finite = st.floats(allow_nan=False, allow_infinity=False)
st.register_type_strategy(float, finite)  # JSON has no NaN or infinity
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | finite | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "nested": st.builds(
        Person,
        name=st.text(min_size=1, max_size=40),
        age=st.integers(0, 200),
        address=st.builds(Address, street=st.text(), city=st.text()),
        nickname=st.none() | st.text(),
        tags=st.lists(st.text(), max_size=3),
    ),
    # ISO 8601 offsets (and pydantic) stop at minutes: the local mean times of the 19th century,
    # such as +00:52:44, are out of reach of any JSON datetime. Times in a DST gap or fold are
    # left out too: Python itself finds them unequal to the same instant in another zone.
    "aware_datetime": st.datetimes()
    | st.datetimes(timezones=st.timezones(), allow_imaginary=False).filter(
        lambda moment: (
            (moment.utcoffset() or timedelta()).seconds % 60 == 0
            and moment.astimezone(UTC) == moment
        )
    ),
    "decimal": st.decimals(allow_nan=False, allow_infinity=False),
    "bytes": st.text().map(str.encode),  # plain bytes travel as UTF-8 text, as in pydantic
    "generic": st.builds(
        Page[Item],
        items=st.lists(
            st.builds(
                Item, sku=st.text(), price=st.decimals(allow_nan=False, allow_infinity=False)
            ),
            max_size=3,
        ),
        total=st.integers(),
    ),
    "recursive": st.deferred(
        lambda: st.builds(
            Tree, label=st.text(), children=st.lists(STRATEGIES["recursive"], max_size=2)
        )
    ),
    "dataclass": st.builds(Point, x=finite, y=finite, label=st.text()),
    "constrained": st.text(min_size=2, max_size=5),
    "any": json_values,
    "json": json_values,
}


def strategy(name: str) -> st.SearchStrategy[Any]:
    return STRATEGIES[name] if name in STRATEGIES else st.from_type(CORPUS[name])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> GeneratedPackage:
    return build_package("tests.corpus_app", tmp_path_factory.mktemp("corpus"), "corpus_gen")


@pytest.fixture(scope="module")
def corpus_server(corpus: GeneratedPackage) -> Iterator[RunningServer]:
    yield from serve_in_thread(corpus.server.app)


def test_the_corpus_clients_pass_ruff_and_strict_pyright(corpus: GeneratedPackage) -> None:
    # The corpus makes its actions in a loop, which pyright cannot follow into server.py.
    lint_and_type_check(corpus.directory.parent, "corpus_gen", skip=("server.py",))


def read_back(client_type: Any, value: Any, server_type: Any) -> Any:
    """A client value read as the server's type: equal to the original when nothing was lost.

    Keys the server left out stay out (`exclude_unset`), as a TypedDict's missing keys do.
    """
    wire = TypeAdapter(client_type).dump_json(value, by_alias=True, exclude_unset=True)
    return TypeAdapter(server_type).validate_json(wire)


FIDELITY = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_values_sent_by_the_server_arrive_equal_in_the_python_client(
    name: str, corpus: GeneratedPackage, corpus_server: RunningServer
) -> None:
    server_type = CORPUS[name]
    with corpus.client.Client(base_url=corpus_server.base_url) as client:

        @FIDELITY
        @given(values=st.lists(strategy(name), min_size=1, max_size=3))
        def round_trip(values: list[Any]) -> None:
            key = uuid.uuid4().hex
            echo.store[key] = values
            call = client.execute_stream(f"replay/{name}", params={"key": key})
            received = list(call.stream)
            assert call.get_result().success is True, call.get_result()
            spec = corpus.client._STREAM_SPECS[f"replay/{name}"]
            assert [read_back(spec.output_type, v, server_type) for v in received] == values

        round_trip()


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_params_sent_by_the_python_client_arrive_equal_in_the_action(
    name: str, corpus: GeneratedPackage, corpus_server: RunningServer
) -> None:
    server_type = CORPUS[name]
    adapter = TypeAdapter(server_type)
    with corpus.client.Client(base_url=corpus_server.base_url) as client:

        @FIDELITY
        @given(value=strategy(name))
        def round_trip(value: Any) -> None:
            key = uuid.uuid4().hex
            sent = adapter.dump_python(value, mode="python", by_alias=True)
            result = client.execute(f"echo/{name}", params={"key": key, "value": sent})
            assert result.success is True, result
            assert echo.received.pop(key) == value
            spec = corpus.client._PLAIN_SPECS[f"echo/{name}"]
            assert read_back(spec.output_type, result.data, server_type) == value

        round_trip()


def test_naive_and_aware_datetimes_keep_their_kind(
    corpus: GeneratedPackage, corpus_server: RunningServer
) -> None:
    with corpus.client.Client(base_url=corpus_server.base_url) as client:
        for value in (
            datetime(2026, 1, 2, 3, 4, 5),
            datetime.fromisoformat("2026-01-02T03:04:05+05:30"),
        ):
            result = client.execute("echo/aware_datetime", params={"key": "k", "value": value})
            assert result.success is True
            assert result.data == value
            assert (result.data.tzinfo is None) == (value.tzinfo is None)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ts_date(value: Any) -> Any:
    moment = datetime.fromisoformat(str(value).removeprefix("t!Date:"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # node runs with TZ=UTC
    return {"$date": (moment - EPOCH) // timedelta(milliseconds=1)}


def _ts_int(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("t!bigint:"):
        return float(int(value.removeprefix("t!bigint:")))  # a number in TypeScript
    return value


def _ts_bigint(value: Any) -> Any:
    return {"$bigint": str(value).removeprefix("t!bigint:")}


def _strip(prefix: str) -> Any:
    return lambda value: value.removeprefix(prefix) if isinstance(value, str) else value


TS_LEAVES: dict[str, Any] = {
    "date": _ts_date,
    "int": _ts_int,
    "bigint": _ts_bigint,
    "url": _strip("t!URL:"),
    "bytes": _strip("t!Uint8Array:"),
}


def as_typescript_sees(type_: Any, value: Any) -> Any:
    """What the TypeScript client should hold for a value the server sends: the wire, read
    by the type's TSON plan the way TypeScript reads it (Dates to the millisecond, ints as
    numbers, BigInts as bigints)."""
    adapter = TypeAdapter(type_)
    schema = adapter.json_schema(mode="serialization", ref_template="#/$defs/{model}")
    defs = schema.pop("$defs", {})
    plans, plan_set = build_plans({"root": schema}, defs)
    read = PlanCompiler(plan_set.defs, "receive", TS_LEAVES).compile(plans["root"])
    wire = orjson.loads(Tson(type_).dumps(value))
    return numbers_as_floats(read(wire) if read else wire)


def numbers_as_floats(value: Any) -> Any:
    """JSON numbers as JavaScript holds them: doubles."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list):
        return [numbers_as_floats(item) for item in value]
    if isinstance(value, dict):
        return {key: numbers_as_floats(item) for key, item in value.items()}
    return value


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_values_sent_by_the_server_arrive_equivalent_in_the_typescript_client(
    name: str, compiled: Path, corpus_server: RunningServer
) -> None:
    replay = compiled / "tests" / "ts" / "src" / "replay.js"

    @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
    @given(values=st.lists(strategy(name), min_size=1, max_size=5))
    def round_trip(values: list[Any]) -> None:
        key = uuid.uuid4().hex
        echo.store[key] = values
        node = subprocess.run(
            ["node", str(replay), corpus_server.base_url],
            input=json.dumps([{"name": name, "key": key}]),
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "TZ": "UTC"},
            check=False,
        )
        assert node.returncode == 0, node.stderr
        (output,) = json.loads(node.stdout)
        assert output["success"] is True
        expected = [as_typescript_sees(CORPUS[name], value) for value in values]
        assert numbers_as_floats(output["chunks"]) == expected

    round_trip()


def unordered_if_set(type_: Any, value: Any) -> Any:
    """A set travels as an array in the order it is iterated, which differs between sets."""
    if get_origin(type_) in (set, frozenset):
        return sorted(json.dumps(item, sort_keys=True) for item in value)
    return value


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_params_sent_by_the_typescript_client_arrive_equivalent_in_the_action(
    name: str, compiled: Path, corpus_server: RunningServer
) -> None:
    """The TypeScript form of a value (Dates, numbers, bigints), sent as params, reaches the
    action as a value whose TypeScript form is the same."""
    script = compiled / "tests" / "ts" / "src" / "echo.js"
    server_type = CORPUS[name]

    @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
    @given(values=st.lists(strategy(name), min_size=1, max_size=5))
    def round_trip(values: list[Any]) -> None:
        jobs = [
            {"name": name, "key": uuid.uuid4().hex, "value": as_typescript_sees(server_type, v)}
            for v in values
        ]
        node = subprocess.run(
            ["node", str(script), corpus_server.base_url],
            input=json.dumps(jobs),
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "TZ": "UTC"},
            check=False,
        )
        assert node.returncode == 0, node.stderr
        assert json.loads(node.stdout) == [{"success": True}] * len(jobs)
        for job in jobs:
            arrived = as_typescript_sees(server_type, echo.received.pop(job["key"]))
            assert unordered_if_set(server_type, arrived) == unordered_if_set(
                server_type, job["value"]
            )

    round_trip()
