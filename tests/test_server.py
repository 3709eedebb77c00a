"""The server side of the wire protocol, read with a plain HTTP client."""

from __future__ import annotations

import logging
import re

import httpx
import orjson
import pytest

from tests.conftest import RunningServer
from tests.probe_app.failures import SECRET

SSE = {"accept": "text/event-stream", "content-type": "application/json"}
JSON = {"accept": "application/json", "content-type": "application/json"}


def post(server: RunningServer, path: str, body: bytes | dict[str, object] = b"", *, stream: bool):
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = SSE if stream else JSON
    return httpx.post(f"{server.base_url}/{path}", content=content, headers=headers, timeout=10)


def events(response: httpx.Response) -> list[bytes]:
    """The `data:` payloads of an event stream, checking every event is `data:` + blank line."""
    blocks = response.content.split(b"\n\n")
    assert blocks[-1] == b"", "the stream must end with a complete event"
    assert all(block.startswith(b"data:") and b"\n" not in block for block in blocks[:-1])
    return [block.removeprefix(b"data:") for block in blocks[:-1]]


def envelope(data: bytes) -> dict[str, object]:
    assert data.startswith(b"@")
    return orjson.loads(data[1:])


def test_stream_sends_handshake_then_one_event_per_chunk(probe_server: RunningServer) -> None:
    response = post(probe_server, "lifecycle/count", {"n": 3}, stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "no-cache" in response.headers["cache-control"]
    assert response.headers["x-accel-buffering"] == "no"
    handshake, *chunks = events(response)
    opening = envelope(handshake)
    assert opening["success"] is True
    assert opening["data"] == "$"
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", str(opening["executeId"]))
    assert chunks == [b"0", b"1", b"2"]


def test_plain_call_answers_one_json_envelope(example_server: RunningServer) -> None:
    response = post(example_server, "hello/say", {"name": "furina"}, stream=False)
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["success"] is True
    assert body["data"]["message"] == "Hello, furina!"
    assert body["data"]["at"].startswith("t!Date:")
    assert body["data"]["at"].endswith("Z")


def test_accept_header_with_several_types_still_selects_a_stream(
    probe_server: RunningServer,
) -> None:
    response = httpx.post(
        f"{probe_server.base_url}/lifecycle/count",
        json={"n": 1},
        headers={"accept": "application/json, text/event-stream;q=0.9"},
    )
    assert events(response)[1:] == [b"0"]


@pytest.mark.parametrize("stream", [False, True])
def test_unknown_path_fails_not_found_in_the_form_asked(
    example_server: RunningServer, stream: bool
) -> None:
    response = post(example_server, "no/such/api", {}, stream=stream)
    assert response.status_code == 200
    if stream:
        (only,) = events(response)
        body = envelope(only)
    else:
        body = response.json()
    assert body["success"] is False
    assert body["fail"] == {"code": "NOT_FOUND", "message": "Not Found", "data": None}


@pytest.mark.parametrize(
    ("body", "path", "expected", "value"),
    [
        ({"name": 123}, "$input.name", "string", 123),
        ({}, "$input.name", "required", None),
        ({"name": ""}, "$input.name", "String should have at least 1 character", ""),
        (b"{not json", "$input", "valid JSON", None),
        (b"[1, 2]", "$input", "object", [1, 2]),
    ],
)
def test_invalid_params_fail_with_type_safe_error(
    example_server: RunningServer,
    body: bytes | dict[str, object],
    path: str,
    expected: str,
    value: object,
) -> None:
    fail = post(example_server, "hello/say", body, stream=False).json()["fail"]
    assert fail["code"] == "TYPE_SAFE_ERROR"
    assert fail["data"] == {"path": path, "expected": expected, "value": value}
    assert fail["message"] == (
        f"Parameter Error: The current value is '{value}', which does not meet '{expected}' "
        "requirements"
    )


def test_nested_params_error_path_names_index_and_field(probe_server: RunningServer) -> None:
    body = {"when": "t!Date:2026-01-01T00:00:00.000Z", "naive": "2026-01-01T00:00:00",
            "big": 1, "items": [1, "x"]}  # fmt: skip
    fail = post(probe_server, "values/echo", body, stream=False).json()["fail"]
    assert fail["data"]["path"] == "$input.items[1]"
    assert fail["data"]["expected"] == "integer"


def test_stream_api_called_plain_says_how_to_call_it(example_server: RunningServer) -> None:
    fail = post(example_server, "your-stream-api", {"name": "x"}, stream=False).json()["fail"]
    assert fail["code"] == "CALL_KIND_MISMATCH"
    assert fail["data"]["expected"] == "stream"
    assert "Accept: text/event-stream" in fail["message"]


def test_plain_api_called_as_stream_says_how_to_call_it(example_server: RunningServer) -> None:
    (only,) = events(post(example_server, "hello/say", {"name": "x"}, stream=True))
    fail = envelope(only)["fail"]
    assert isinstance(fail, dict)
    assert fail["code"] == "CALL_KIND_MISMATCH"
    assert fail["data"]["expected"] == "plain"


def test_other_methods_fail_not_allow_method(example_server: RunningServer) -> None:
    response = httpx.get(f"{example_server.base_url}/hello/say", headers=JSON)
    assert response.json()["fail"]["code"] == "NOT_ALLOW_METHOD"


def test_request_body_over_the_limit_is_refused(example_server: RunningServer) -> None:
    huge = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    fail = post(example_server, "hello/say", huge, stream=False).json()["fail"]
    assert fail["code"] == "PAYLOAD_TOO_LARGE"
    assert fail["data"] == {"limit": 1024 * 1024}


def test_internal_error_is_logged_with_execute_id_and_never_sent(
    probe_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="milkio_gen.server")
    response = post(probe_server, "failures/raise-plain", stream=False)
    body = response.json()
    assert body["fail"] == {
        "code": "INTERNAL_SERVER_ERROR",
        "message": "Internal Server Error",
        "data": None,
    }
    assert SECRET not in response.text
    assert "Traceback" not in response.text
    logged = [r for r in caplog.records if body["executeId"] in r.getMessage()]
    assert logged, "the error is logged under the execute id"
    assert logged[0].exc_info is not None
    assert SECRET in str(logged[0].exc_info[1])


def test_error_mid_stream_ends_with_a_fail_envelope(probe_server: RunningServer) -> None:
    response = post(probe_server, "failures/raise-in-stream", stream=True)
    handshake, one, two, last = events(response)
    assert (one, two) == (b"1", b"2")
    closing = envelope(last)
    assert closing["executeId"] == envelope(handshake)["executeId"]
    assert closing["fail"] == {
        "code": "INTERNAL_SERVER_ERROR",
        "message": "Internal Server Error",
        "data": None,
    }
    assert SECRET not in response.text


def test_reject_mid_stream_sends_its_fail(probe_server: RunningServer) -> None:
    *_, last = events(post(probe_server, "failures/reject-in-stream", stream=True))
    assert envelope(last)["fail"] == {
        "code": "BUSINESS_FAIL",
        "message": "no more for you",
        "data": "no more for you",
    }


def test_undeclared_fail_code_is_an_internal_error(
    probe_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="milkio_gen.server")
    body = post(probe_server, "failures/reject-undeclared", stream=False).json()
    assert body["fail"]["code"] == "INTERNAL_SERVER_ERROR"
    assert any("NO_SUCH_CODE" in r.getMessage() for r in caplog.records)


def test_chunk_of_the_wrong_type_ends_the_stream_with_an_internal_error(
    probe_server: RunningServer,
) -> None:
    _handshake, first, last = events(post(probe_server, "failures/wrong-chunk", stream=True))
    assert first == b"1"
    assert envelope(last)["fail"]["code"] == "INTERNAL_SERVER_ERROR"


def test_tson_values_arrive_typed_and_leave_as_tson(probe_server: RunningServer) -> None:
    body = {
        "when": "t!Date:2026-11-24T10:00:00.123Z",
        "naive": "t!Date:2026-11-24T10:00:00.000",
        "big": "t!bigint:1152921504606846977",
        "items": [1, 2],
    }
    response = post(probe_server, "values/echo", body, stream=False)
    data = response.json()["data"]
    assert data == {
        "when": "t!Date:2026-11-24T10:00:00.123000Z",
        "naive": "t!Date:2026-11-24T10:00:00",
        "big": "t!bigint:1152921504606846977",
        "items": [1, 2],
        "label": None,
    }


def test_context_carries_execute_id_path_and_headers(probe_server: RunningServer) -> None:
    response = httpx.post(
        f"{probe_server.base_url}/values/context-seen", headers={**JSON, "x-probe": "hi"}
    )
    body = response.json()
    assert body["data"] == {
        "execute_id": body["executeId"],
        "path": "values/context-seen",
        "header": "hi",
    }


def test_stream_failing_at_once_answers_a_single_fail_envelope(
    probe_server: RunningServer,
) -> None:
    response = post(probe_server, "failures/raise-at-once", stream=True)
    (only,) = events(response)
    assert envelope(only)["fail"]["code"] == "INTERNAL_SERVER_ERROR"
    assert SECRET not in response.text


def test_a_cancelled_await_inside_the_action_is_its_failure_not_a_stop(
    probe_server: RunningServer,
) -> None:
    handshake, first, last = events(post(probe_server, "failures/cancelled-inside", stream=True))
    assert envelope(handshake)["success"] is True
    assert first == b"1"
    assert envelope(last)["fail"]["code"] == "INTERNAL_SERVER_ERROR"
