"""The APIs in the OpenAPI document: its shapes, checked against what real servers send,
under `create_app` and mounted under a prefix, and Schemathesis run over the example app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from litestar import Litestar, Router, get
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import OpenAPI, Tag
from milkio_gen.fails import BUILTIN_FAIL_CODES
from milkio_gen.runtime.server import ApiDocs, bind, create_app, create_router
from openapi_spec_validator import OpenAPIV31SpecValidator, OpenAPIV32SpecValidator, validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from generated.server import apis, fail_codes, router
from tests.conftest import ROOT, RunningServer, serve_in_thread
from tests.probe_app import values

Document = dict[str, Any]


def fetch_document(server: RunningServer) -> Document:
    answer = httpx.get(f"{server.base_url}/schema/openapi.json", timeout=10)
    assert answer.status_code == 200
    return answer.json()


def schema_at(document: Document, *pointer: str) -> Draft202012Validator:
    """A validator of the schema at `pointer` in `document`, its refs read in the document."""
    escaped = "/".join(part.replace("~", "~0").replace("/", "~1") for part in pointer)
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource("urn:openapi", resource)
    return Draft202012Validator(
        {"$ref": f"urn:openapi#/{escaped}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def operation(document: Document, path: str) -> Document:
    return document["paths"][path]["post"]


def events_of(text: str) -> list[dict[str, str]]:
    events: list[dict[str, str]] = []
    for block in text.split("\n\n"):
        event = dict(line.split(":", 1) for line in block.split("\n") if line[:1] not in ("", ":"))
        if event:
            events.append(event)
    return events


def check_stream(document: Document, path: str, events: list[dict[str, str]]) -> None:
    """Each event matches the document's event schema, its envelope or chunk their schemas."""
    media = ("paths", path, "post", "responses", "200", "content", "text/event-stream", "schema")
    data = (*media, "properties", "data", "anyOf")
    for event in events:
        schema_at(document, *media).validate(event)
        if event["data"].startswith("@"):
            envelope = json.loads(event["data"][1:])
            schema_at(document, *data, "0", "x-milkio-envelope").validate(envelope)
        else:
            schema_at(document, *data, "1", "contentSchema").validate(json.loads(event["data"]))


@pytest.fixture(scope="module")
def document(example_server: RunningServer) -> Document:
    return fetch_document(example_server)


def test_the_document_is_valid_openapi_3_1(document: Document) -> None:
    validate(document, cls=OpenAPIV31SpecValidator)
    assert document["openapi"] == "3.1.0"
    assert {f"/{binding.path}" for binding in apis} <= document["paths"].keys()


def test_a_plain_api_has_its_params_result_and_fails(
    document: Document, example_server: RunningServer
) -> None:
    say = operation(document, "/hello/say")
    assert say["description"] == "Greets by name."
    assert say["x-milkio-kind"] == "plain"
    assert say["requestBody"]["required"] is True
    params = say["requestBody"]["content"]["application/json"]["schema"]
    name = document["components"]["schemas"][params["$ref"].rsplit("/", 1)[1]]["properties"]
    assert name["name"]["minLength"] == 1
    either = say["responses"]["200"]["content"]["application/json"]["schema"]["oneOf"]
    assert either[0]["properties"]["data"] == {"$ref": "#/components/schemas/Greeting"}
    assert either[1] == {"$ref": "#/components/schemas/milkio.FailEnvelope"}

    answers = [
        httpx.post(f"{example_server.base_url}/hello/say", json=params, timeout=10).json()
        for params in ({"name": "furina"}, {"name": ""})
    ]
    assert [answer["success"] for answer in answers] == [True, False]
    assert answers[0]["data"]["at"].startswith("t!Date:")
    for answer in answers:
        schema_at(document, *envelope_path("/hello/say")).validate(answer)
    # A fail of the app's own, with its data typed.
    out = httpx.post(
        f"{example_server.base_url}/orders/place",
        json={"item": "nothing", "quantity": 2},
        timeout=10,
    ).json()
    assert out["fail"]["code"] == "OUT_OF_STOCK"
    schema_at(document, *envelope_path("/orders/place")).validate(out)
    wrong = {**out, "fail": {**out["fail"], "data": {"item": "nothing"}}}
    assert not schema_at(document, *envelope_path("/orders/place")).is_valid(wrong)


def envelope_path(path: str) -> tuple[str, ...]:
    return ("paths", path, "post", "responses", "200", "content", "application/json", "schema")


def test_a_stream_api_describes_its_events_by_the_chunk_schema(
    document: Document, example_server: RunningServer
) -> None:
    complete = operation(document, "/llm/complete")
    assert complete["x-milkio-kind"] == "stream"
    content = complete["responses"]["200"]["content"]
    assert list(content) == ["text/event-stream", "application/json"]
    event = content["text/event-stream"]["schema"]
    assert event["required"] == ["data"]
    chunk = event["properties"]["data"]["anyOf"][1]
    assert chunk["contentMediaType"] == "application/json"
    tokens = {"$ref": "#/components/schemas/Token"}, {"$ref": "#/components/schemas/Usage"}
    assert chunk["contentSchema"]["oneOf"] == list(tokens)
    assert "id" not in event["properties"]
    stream_api = operation(document, "/your-stream-api")["responses"]["200"]["content"]
    assert stream_api["text/event-stream"]["schema"]["properties"]["data"]["anyOf"][1][
        "contentSchema"
    ] == {"type": "string"}
    # A tracked stream's chunks carry ids to resume after.
    subscribe = operation(document, "/chat/subscribe")["responses"]["200"]["content"]
    assert "id" in subscribe["text/event-stream"]["schema"]["properties"]

    answer = httpx.post(
        f"{example_server.base_url}/llm/complete",
        json={"prompt": "a b", "max_tokens": 3, "delay": 0},
        headers={"Accept": "text/event-stream"},
        timeout=10,
    )
    events = events_of(answer.text)
    assert len(events) == 5  # the handshake, three tokens, the usage
    check_stream(document, "/llm/complete", events)
    refused = httpx.post(
        f"{example_server.base_url}/llm/complete",
        json={"prompt": "a b", "max_tokens": 0},
        headers={"Accept": "text/event-stream"},
        timeout=10,
    )
    [fail] = events_of(refused.text)
    assert json.loads(fail["data"][1:])["fail"]["code"] == "TYPE_SAFE_ERROR"
    check_stream(document, "/llm/complete", [fail])
    # Called as a plain API, a stream API fails with a JSON envelope the document describes.
    plain = httpx.post(f"{example_server.base_url}/llm/complete", json={"prompt": "a"}, timeout=10)
    assert plain.json()["fail"]["code"] == "CALL_KIND_MISMATCH"
    schema_at(document, *envelope_path("/llm/complete")).validate(plain.json())


def test_fails_are_every_code_the_server_sends_each_with_its_data(document: Document) -> None:
    schemas = document["components"]["schemas"]
    union = schemas["milkio.Fail"]
    codes = set(BUILTIN_FAIL_CODES) - {"NETWORK_ERROR"} | {fail.code for fail in fail_codes or ()}
    assert set(union["discriminator"]["mapping"]) == codes
    assert {"OUT_OF_STOCK", "UNAUTHORIZED"} <= codes
    out_of_stock = schemas["milkio.Fail.OUT_OF_STOCK"]
    assert out_of_stock["properties"]["code"] == {"const": "OUT_OF_STOCK"}
    assert out_of_stock["properties"]["data"] == {"$ref": "#/components/schemas/OutOfStock"}
    assert schemas["milkio.Fail.NOT_FOUND"]["properties"]["data"] == {"type": "null"}
    assert schemas["milkio.Fail.STREAM_DEADLINE"]["x-milkio-retryable"] is True


@pytest.fixture(scope="module")
def values_server() -> Iterator[RunningServer]:
    probe = [
        bind("values/echo", values.echo),
        bind("values/big", values.big),
        bind("values/nothing", values.nothing),
    ]
    yield from serve_in_thread(create_app(create_router(probe)))


def test_tson_values_are_described_as_they_travel(values_server: RunningServer) -> None:
    document = fetch_document(values_server)
    validate(document, cls=OpenAPIV31SpecValidator)
    schemas = document["components"]["schemas"]
    echo = operation(document, "/values/echo")
    params = echo["requestBody"]["content"]["application/json"]["schema"]
    result = echo["responses"]["200"]["content"]["application/json"]["schema"]["oneOf"][0]
    # Read and sent apart: the server reads ISO datetimes and plain ints, and sends TSON.
    assert params == {"$ref": "#/components/schemas/ValuesInput"}
    assert result["properties"]["data"] == {"$ref": "#/components/schemas/Values"}
    assert schemas["ValuesInput"]["properties"]["when"]["format"] == "date-time"
    assert schemas["ValuesInput"]["properties"]["big"] == {"type": "integer"}
    assert schemas["Values"]["properties"]["when"]["pattern"].startswith("^t!Date:")
    assert schemas["Values"]["properties"]["big"]["anyOf"][1]["pattern"] == "^t!bigint:-?[0-9]+$"
    assert schemas["Big"]["properties"]["exact"]["pattern"] == "^t!bigint:-?[0-9]+$"
    assert schemas["BigInput"]["properties"]["exact"]["format"] == "bigint"
    # No params: no body; a result of None: null.
    nothing = operation(document, "/values/nothing")
    assert "requestBody" not in nothing
    sent = nothing["responses"]["200"]["content"]["application/json"]["schema"]["oneOf"][0]
    assert sent["properties"]["data"] == {"type": "null"}

    params_sent = {
        "when": "2026-11-24T10:00:00.123000Z",
        "naive": "2026-11-24T10:00:00",
        "big": 2**60,
        "items": [1, 2**60],
    }
    answer = httpx.post(f"{values_server.base_url}/values/echo", json=params_sent, timeout=10)
    echoed = answer.json()
    assert echoed["data"]["big"] == f"t!bigint:{2**60}"
    schema_at(document, *envelope_path("/values/echo")).validate(echoed)
    stream = httpx.post(
        f"{values_server.base_url}/values/big",
        json={"exact": 5, "small": 1, "when": "2026-11-24T10:00:00Z"},
        headers={"Accept": "text/event-stream"},
        timeout=10,
    )
    events = events_of(stream.text)
    assert len(events) == 3
    check_stream(document, "/values/big", events)


@get("/health", sync_to_thread=False)
def health() -> str:
    return "ok"


@pytest.fixture(scope="module")
def mounted_server() -> Iterator[RunningServer]:
    app = Litestar(
        route_handlers=[Router("/rpc", route_handlers=[router]), health], plugins=[ApiDocs()]
    )
    yield from serve_in_thread(app)


def test_apis_mounted_under_a_prefix_are_described_at_their_paths(
    mounted_server: RunningServer,
) -> None:
    document = fetch_document(mounted_server)
    validate(document, cls=OpenAPIV31SpecValidator)
    paths = document["paths"]
    assert {f"/rpc/{binding.path}" for binding in apis} | {"/health"} == set(paths)
    assert operation(document, "/rpc/hello/say")["operationId"] == "rpc_hello_say"
    answer = httpx.post(f"{mounted_server.base_url}/rpc/hello/say", json={"name": "a"}, timeout=10)
    assert answer.json()["success"] is True
    schema_at(document, *envelope_path("/rpc/hello/say")).validate(answer.json())


def test_apis_under_a_router_left_out_of_the_schema_are_not_described() -> None:
    hidden = Router("/internal", route_handlers=[router], include_in_schema=False)
    app = Litestar(route_handlers=[hidden, health], plugins=[ApiDocs()])
    assert set(app.openapi_schema.to_schema()["paths"]) == {"/health"}


def test_an_openapi_config_of_the_apps_own_keeps_its_settings() -> None:
    class Tagged(OpenAPIConfig):
        def to_openapi_schema(self) -> OpenAPI:
            document = super().to_openapi_schema()
            document.tags = [Tag(name="tagged")]
            return document

    config = Tagged(title="Shop", version="2.0")
    document = create_app(router, openapi_config=config).openapi_schema.to_schema()
    assert document["info"] == {"title": "Shop", "version": "2.0"}
    assert document["tags"] == [{"name": "tagged"}]
    assert "/hello/say" in document["paths"]
    assert type(config) is Tagged  # the app's config object is left as it was


def test_openapi_3_2_describes_events_with_item_schema() -> None:
    app = Litestar(route_handlers=[router], plugins=[ApiDocs(openapi_version="3.2")])
    document = app.openapi_schema.to_schema()
    validate(document, cls=OpenAPIV32SpecValidator)
    assert document["openapi"] == "3.2.0"
    events = operation(document, "/llm/complete")["responses"]["200"]["content"]
    assert set(events["text/event-stream"]) == {"itemSchema"}
    # Why it is not the default: OpenAPI 3.1 has no `itemSchema`.
    errors = OpenAPIV31SpecValidator({**document, "openapi": "3.1.0"}).iter_errors()
    assert any("itemSchema" in error.message for error in errors)


def test_the_same_app_gives_the_same_document_bytes() -> None:
    from generated.server import app

    here = json.dumps(app.openapi_schema.to_schema())
    other = json.dumps(create_app(router).openapi_schema.to_schema())
    code = (
        "import json; from generated.server import app; "
        "print(json.dumps(app.openapi_schema.to_schema()))"
    )
    environment = {**os.environ, "PYTHONHASHSEED": "1"}
    elsewhere = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.strip()
    assert here == other == elsewhere


def test_params_of_another_json_type_are_refused(example_server: RunningServer) -> None:
    answer = httpx.post(
        f"{example_server.base_url}/orders/place",
        json={"item": "nothing", "quantity": True},
        timeout=10,
    ).json()
    assert answer["fail"]["code"] == "TYPE_SAFE_ERROR"


SCHEMATHESIS_CONFIG = """
hooks = "milkio_gen.testing.schemathesis_hooks"
request-timeout = 3
max-stream-events = 3
seed = 1

[checks]
# The protocol answers 200 for a fail: these judge by status, the hooks' checks by the body.
negative_data_rejection.enabled = false
positive_data_acceptance.enabled = false
unsupported_method.enabled = false

[generation]
max-examples = 10

# A subscription sends nothing after its handshake until someone publishes.
[[operations]]
include-path = "/chat/subscribe"
max-stream-events = 1
"""


def test_schemathesis_finds_nothing_wrong(example_server: RunningServer, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG)
    report = tmp_path / "report.json"
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file",
            str(config),
            "run",
            f"{example_server.base_url}/schema/openapi.json",
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    summary = json.loads(report.read_text())
    assert summary["operations"]["tested"] == len(apis)
    assert summary["test_cases"]["generated"] > 10 * len(apis)
    assert summary["failures"] == []
    assert summary["errors"] == []
