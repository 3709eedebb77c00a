"""Hostile request bodies against a real server: each is refused with a `TYPE_SAFE_ERROR` that
says what is wrong (never a 500, never a traceback), in bounded time, while a normal client on
the same server goes on being served."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import httpx
import orjson
import pytest
from milkio_gen.runtime.client import Failure, Success
from milkio_gen.runtime.server import bind, create_app, create_router
from milkio_gen.runtime.tson import MAX_DEPTH, MAX_DIGITS
from pydantic import BaseModel, JsonValue

from tests.conftest import RunningServer, serve_in_thread

SSE = {"accept": "text/event-stream", "content-type": "application/json"}
JSON = {"accept": "application/json", "content-type": "application/json"}


class Params(BaseModel):
    name: str
    count: int = 0
    ratio: float = 0.0
    at: datetime | None = None
    tags: list[str] = []
    anything: JsonValue = None


class Node(BaseModel):
    """Recursive, with a datetime: a document with TSON in it takes the walk in Python."""

    kind: Literal["node"] = "node"
    at: datetime | None = None
    child: Node | None = None


async def echo(params: Params) -> Params:
    return params


async def depth(params: Node) -> int:
    levels, node = 1, params
    while node.child is not None:
        levels, node = levels + 1, node.child
    return levels


async def ticks(params: Params) -> AsyncIterator[int]:
    for tick in range(params.count):
        yield tick


async def hello() -> str:
    return "hello"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    apis = [bind("echo", echo), bind("depth", depth), bind("ticks", ticks), bind("hello", hello)]
    yield from serve_in_thread(create_app(create_router(apis)))


def post(
    server: RunningServer, path: str, body: bytes, *, stream: bool = False, timeout: float = 10
) -> httpx.Response:
    headers = SSE if stream else JSON
    return httpx.post(f"{server.base_url}/{path}", content=body, headers=headers, timeout=timeout)


def fail_of(response: httpx.Response) -> dict[str, object]:
    """The fail a plain or stream call answered, checking it is the protocol's and holds no
    traceback."""
    assert response.status_code == 200, response.text[:500]
    assert b"Traceback" not in response.content
    if response.headers["content-type"].startswith("text/event-stream"):
        assert response.content.startswith(b"data:@")
        assert response.content.endswith(b"\n\n")
        envelope = orjson.loads(response.content.removeprefix(b"data:@"))
    else:
        envelope = orjson.loads(response.content)
    assert envelope["success"] is False, envelope
    return envelope["fail"]


def nested(levels: int, leaf: bytes = b"1") -> bytes:
    return b"[" * levels + leaf + b"]" * levels


TSON = b'"at":"t!Date:2026-01-01T00:00:00Z",'
"""Put in a body, this makes the server take the path that walks TSON in Python."""

DEPTH = f"JSON nested at most {MAX_DEPTH} levels"
DIGITS = f"numbers of at most {MAX_DIGITS} digits"
MIB = 1024 * 1024


def params(field: str, raw: bytes) -> bytes:
    """Params with a right `name` and `field` written as `raw`, as JSON or not."""
    return b'{"name": "x", "' + field.encode() + b'": ' + raw + b"}"


NOT_A_CONSTANT = "JSON without NaN or Infinity"
DATETIME = "a valid datetime, invalid date separator, expected `-`"
HOSTILE: dict[str, tuple[bytes, str, str]] = {
    # name: (body, path, expected)
    "not JSON": (b"hello", "$input", "valid JSON"),
    "truncated": (b'{"name": "x", "tags": ["a"', "$input", "valid JSON"),
    "trailing garbage": (b'{"name": "x"} {}', "$input", "valid JSON"),
    "byte order mark": (b'\xef\xbb\xbf{"name": "x"}', "$input", "valid JSON"),
    "an array": (b'["x"]', "$input", "object"),
    "a string": (b'"x"', "$input", "object"),
    "null": (b"null", "$input", "object"),
    "a number": (b"12", "$input", "object"),
    "invalid UTF-8 in a string": (b'{"name": "\xff\xfe"}', "$input", "valid UTF-8"),
    "invalid UTF-8 in a key": (b'{"na\xc3me": "x"}', "$input", "valid UTF-8"),
    "invalid UTF-8 outside strings": (b'{"name": "x"}\x80', "$input", "valid UTF-8"),
    "a UTF-8 encoded surrogate": (b'{"name": "\xed\xa0\x80"}', "$input", "valid UTF-8"),
    "a lone surrogate escape": (b'{"name": "\\ud800"}', "$input", "valid JSON"),
    "a lone surrogate escape beside a long number": (
        b'{"name": "\\ud800", "count": 1234567890123456789}',
        "$input",
        "valid JSON",
    ),
    "a byte order mark beside a long number": (
        b'\xef\xbb\xbf{"name": "x", "count": 1234567890123456789}',
        "$input",
        "valid JSON",
    ),
    "NaN": (params("ratio", b"NaN"), "$input", NOT_A_CONSTANT),
    "Infinity": (params("ratio", b"Infinity"), "$input", NOT_A_CONSTANT),
    "-Infinity": (params("anything", b"[-Infinity]"), "$input", NOT_A_CONSTANT),
    "1e999 as an int": (params("count", b"1e999"), "$input.count", "integer"),
    "a 100,000-digit int": (params("count", b"9" * 100_000), "$input", DIGITS),
    "a 100,000-digit float": (params("ratio", b"1" + b"0" * 100_000 + b".5"), "$input", DIGITS),
    "a 4301-digit int": (params("count", b"-" + b"9" * (MAX_DIGITS + 1)), "$input", DIGITS),
    "a 100,000-digit bigint text": (
        params("count", b'"t!bigint:' + b"9" * 100_000 + b'"'),
        "$input.count",
        "integer",
    ),
    "bigint text int() would take": (
        params("count", b'"t!bigint:1_000"'),
        "$input.count",
        "integer",
    ),
    "201 levels": (params("anything", nested(MAX_DEPTH)), "$input", DEPTH),
    "300 levels": (params("anything", nested(300)), "$input", DEPTH),
    "1000 levels beside a long number": (
        params("anything", nested(1000, b"1234567890123456789")),
        "$input",
        DEPTH,
    ),
    "100,000 levels": (params("anything", nested(100_000)), "$input", DEPTH),
    "a MiB of unclosed arrays": (params("anything", b"[" * (MIB - 100))[:-1], "$input", DEPTH),
    "a MiB of unclosed objects": (b'{"a":' * (MIB // 5), "$input", DEPTH),
    "a huge datetime": (
        params("at", b'"t!Date:' + b"2" * (MIB - 100) + b'"'),
        "$input.at",
        DATETIME,
    ),
}


def with_tson(body: bytes) -> bytes:
    """The body with TSON in it, so that both ways of reading a body are tried."""
    return body.replace(b'{"name": ', b"{" + TSON + b'"name": ', 1)


@pytest.mark.parametrize(
    ("name", "tson"),
    [(name, False) for name in HOSTILE]
    + [(name, True) for name, (body, _, _) in HOSTILE.items() if b'{"name": ' in body],
)
def test_a_hostile_body_fails_saying_what_is_wrong(
    server: RunningServer, name: str, tson: bool
) -> None:
    body, path, expected = HOSTILE[name]
    if tson:
        body = with_tson(body)
    assert len(body) <= MIB, "the server's default limit, which would answer first"
    fail = fail_of(post(server, "echo", body))
    assert fail["code"] == "TYPE_SAFE_ERROR"
    data = fail["data"]
    assert isinstance(data, dict)
    assert (data["path"], data["expected"]) == (path, expected)


@pytest.mark.parametrize("name", ["not JSON", "a MiB of unclosed arrays", "NaN", "201 levels"])
def test_a_stream_call_gets_the_same_fail_as_an_event(server: RunningServer, name: str) -> None:
    body, path, expected = HOSTILE[name]
    fail = fail_of(post(server, "ticks", body, stream=True))
    data = fail["data"]
    assert isinstance(data, dict)
    assert (fail["code"], data["path"], data["expected"]) == ("TYPE_SAFE_ERROR", path, expected)


@pytest.mark.parametrize("tson", [False, True], ids=["plain", "tson"])
def test_values_at_the_limits_are_accepted(server: RunningServer, tson: bool) -> None:
    prefix = TSON if tson else b""
    limit_int = b"9" * MAX_DIGITS
    body = b"{" + prefix + b'"name": "x", "count": ' + limit_int + b', "anything": '
    body += nested(MAX_DEPTH - 1) + b"}"  # the object is one level
    response = post(server, "echo", body)
    data = response.json()["data"]
    assert data["count"] == "t!bigint:" + limit_int.decode()
    assert data["anything"] == orjson.loads(nested(MAX_DEPTH - 1))


@pytest.mark.parametrize(
    ("body", "ratio", "count"),
    [
        # JSON numbers, whatever their form, as every JSON parser reads them: the type decides.
        (b'{"name": "x", "ratio": -0, "count": -0}', 0.0, 0),
        (b'{"name": "x", "ratio": -0.0}', -0.0, 0),
        (b'{"name": "x", "ratio": 1e-999}', 0.0, 0),
        (b'{"name": "x", "count": 1e3}', 0.0, 1000),
        # A float takes 1e999 as infinity, as pydantic's floats do (`allow_inf_nan=False` on a
        # model refuses it); the server writes infinity back as null.
        (b'{"name": "x", "ratio": 1e999}', None, 0),
    ],
)
@pytest.mark.parametrize("tson", [False, True], ids=["plain", "tson"])
def test_numbers_json_allows_are_read_the_same_either_way(
    server: RunningServer, body: bytes, ratio: float | None, count: int, tson: bool
) -> None:
    data = post(server, "echo", with_tson(body) if tson else body).json()["data"]
    assert (data["ratio"], data["count"]) == (ratio, count)
    assert str(data["ratio"]) == str(ratio)  # -0.0 stays negative


@pytest.mark.parametrize("levels", [MAX_DEPTH, MAX_DEPTH + 1])
def test_a_recursive_type_is_walked_to_the_depth_limit(server: RunningServer, levels: int) -> None:
    node = b'{"at": "t!Date:2026-01-01T00:00:00Z", "child": '
    body = node * (levels - 1) + b'{"kind": "node"}' + b"}" * (levels - 1)
    response = post(server, "depth", body)
    if levels <= MAX_DEPTH:
        assert response.json()["data"] == levels
    else:
        fail = fail_of(response)
        assert fail["data"] == {"path": "$input", "expected": DEPTH, "value": None}


def test_an_api_without_params_ignores_any_body(server: RunningServer) -> None:
    for body in (b"\xff" * 1000, nested(100_000), b"NaN"):
        assert post(server, "hello", body).json()["data"] == "hello"


def test_a_body_over_the_size_limit_fails_payload_too_large(server: RunningServer) -> None:
    fail = fail_of(post(server, "echo", b'{"name": "' + b"x" * MIB + b'"}'))
    assert fail == {"code": "PAYLOAD_TOO_LARGE", "message": fail["message"], "data": {"limit": MIB}}


ITEMS = b",".join([b"1"] * (MIB // 2 - 40))
COSTLY = {
    "a MiB of wrong items": b'{"name": "x", "tags": [' + ITEMS + b"]}",
    "a MiB of wrong items, with TSON": with_tson(b'{"name": "x", "tags": [' + ITEMS + b"]}"),
    "a MiB of right items": b'{"name": "x", "anything": [' + ITEMS + b"]}",
    "a MiB of the longest numbers, with TSON": with_tson(
        b'{"name": "x", "anything": [' + b",".join([b"9" * MAX_DIGITS] * 230) + b"]}"
    ),
    "a MiB of unclosed arrays": HOSTILE["a MiB of unclosed arrays"][0],
    "a MiB of datetime": HOSTILE["a huge datetime"][0],
}
"""The bodies that cost the server most, a MiB each."""


def test_a_body_of_wrong_items_costs_no_more_than_a_few_of_right_ones(
    server: RunningServer,
) -> None:
    """pydantic reports each wrong item: half a million errors, which took seconds to make
    into Python objects when only the first is sent (8 to 16 times a body of right items)."""

    def cost(body: bytes) -> float:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            times: list[float] = []
            for _ in range(3):
                started = time.perf_counter()
                client.post("/echo", content=body, headers=JSON).raise_for_status()
                times.append(time.perf_counter() - started)
        return min(times)

    right = cost(COSTLY["a MiB of right items"])
    for name in ("a MiB of wrong items", "a MiB of wrong items, with TSON"):
        assert cost(COSTLY[name]) < 4 * right, name


_ATTACK = """
import sys, time, httpx
url, seconds, *paths = sys.argv[1:]
bodies = [open(path, "rb").read() for path in paths]
headers = {"accept": "application/json", "content-type": "application/json"}
sent, deadline = 0, time.monotonic() + float(seconds)
with httpx.Client(timeout=30) as client:
    while time.monotonic() < deadline:
        body = bodies[sent % len(bodies)]
        answer = client.post(url, content=body, headers=headers).json()
        assert answer["success"] or answer["fail"]["code"] == "TYPE_SAFE_ERROR", answer
        sent += 1
print(sent)
"""


def test_a_normal_client_is_served_while_hostile_ones_send(
    server: RunningServer, tmp_path: Path
) -> None:
    """Two other processes send the costliest bodies over and over for three seconds; the
    test's own client makes plain calls and streams all the while, and each of its calls is
    answered after the few hostile ones ahead of it, never much later."""
    paths = []
    for index, body in enumerate(COSTLY.values()):
        paths.append(tmp_path / f"{index}.json")
        paths[-1].write_bytes(body)
    attackers = [
        subprocess.Popen(
            [sys.executable, "-c", _ATTACK, f"{server.base_url}/echo", "3", *map(str, shifted)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for shifted in (paths, paths[3:] + paths[:3])
    ]
    slowest, normal_calls = 0.0, 0
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            time.sleep(0.5)
            while any(attacker.poll() is None for attacker in attackers):
                started = time.monotonic()
                said = client.post("/echo", content=b'{"name": "furina"}', headers=JSON)
                assert said.json()["data"]["name"] == "furina"
                slowest = max(slowest, time.monotonic() - started)
                started = time.monotonic()
                streamed = client.post("/ticks", content=b'{"name": "x", "count": 3}', headers=SSE)
                assert streamed.content.count(b"\n\n") == 4
                slowest = max(slowest, time.monotonic() - started)
                normal_calls += 2
        sent = [int(attacker.communicate(timeout=30)[0]) for attacker in attackers]
    finally:
        for attacker in attackers:
            attacker.kill()
            attacker.wait()
    # A hostile body holds the server's thread for a fraction of a second; with two senders,
    # a normal call waits for about two of them.
    assert slowest < 3.0, slowest
    assert normal_calls >= 6
    assert all(attacker.returncode == 0 for attacker in attackers)
    assert sum(sent) >= 6, "the hostile clients were not sending"


# --- the other way: a hostile server, read by the Python client -------------------------

HANDSHAKE = b'data:@{"executeId":"01J0000000000000000000000A","success":true,"data":"$"}\n\n'


def answer(body: bytes, content_type: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: " + content_type + b"\r\nconnection: close\r\n\r\n"
    return head + body


@pytest.mark.parametrize(
    ("chunk", "expected"),
    [
        (nested(1000), DEPTH),
        (nested(300, b"12345678901234567890"), DEPTH),
        (b"NaN", "JSON without NaN or Infinity"),
        (b'"\xff"', "valid UTF-8"),
        (b"9" * 100_000, DIGITS),
        (b'"t!bigint:1_0"', "string"),  # a str chunk: the text was a str, it stays one
    ],
)
def test_a_hostile_chunk_ends_the_stream_with_a_client_made_fail(
    raw_http_server: Any, chunk: bytes, expected: str
) -> None:
    from generated.client import Client

    base_url = raw_http_server(answer(HANDSHAKE + b"data:" + chunk + b"\n\n", b"text/event-stream"))
    with Client(base_url=base_url) as client:
        call = client.your_stream_api.execute_stream(params={"name": "a"})
        received = list(call.stream)
    result = call.get_result()
    if expected == "string":
        assert received == ["t!bigint:1_0"]
        assert isinstance(result, Success)
        return
    assert received == []
    assert isinstance(result, Failure)
    assert (result.fail.code, result.fail.from_client) == ("TYPE_SAFE_ERROR", True)
    detail = {"path": "$chunk", "expected": expected, "value": None}
    assert result.fail.data.model_dump() == detail


@pytest.mark.parametrize(
    ("envelope", "code", "data"),
    [
        # Too deep for the envelope's parser: no envelope at all.
        (b'{"data":' + nested(5000, b"12345678901234567890") + b"}", "NETWORK_ERROR", None),
        (b'{"success":true,"data":' + nested(300) + b"}", "NETWORK_ERROR", None),
        (b'{"success":true,"data":' + nested(MAX_DEPTH - 1) + b"}", "TYPE_SAFE_ERROR", "object"),
        (
            b'{"success":true,"data":[' + b",".join([b"1"] * 200_000) + b"]}",
            "TYPE_SAFE_ERROR",
            "object",
        ),
    ],
)
def test_a_hostile_plain_answer_is_a_client_made_fail(
    raw_http_server: Any, envelope: bytes, code: str, data: str | None
) -> None:
    from generated.client import Client

    base_url = raw_http_server(answer(envelope, b"application/json"))
    with Client(base_url=base_url) as client:
        result = client.hello.say.execute(params={"name": "a"})
    assert isinstance(result, Failure)
    assert (result.fail.code, result.fail.from_client) == (code, True)
    if data is not None:
        assert result.fail.data.model_dump()["expected"] == data
