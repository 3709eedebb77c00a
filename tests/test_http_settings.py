"""What `[tool.milkio-gen.http]` and `MILKIO_HTTP_*` do to a served app: CORS for listed
origins only, directories served beside the APIs and beside an app's own routes, and an
unknown path still answered in the protocol's form. Real servers on 127.0.0.1."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from litestar import get, post
from litestar.exceptions import NotFoundException
from milkio_gen.http_settings import HttpOptions, HttpSettings
from milkio_gen.runtime.server import create_app, create_router
from pydantic import ValidationError

from tests.conftest import ROOT, serve_in_thread

ALLOWED = "http://pages.example"


def preflight(base_url: str, origin: str) -> httpx.Response:
    """What a browser asks before a page of `origin` POSTs JSON for an event stream."""
    return httpx.options(
        f"{base_url}/llm/complete",
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,last-event-id",
        },
    )


def example_app(http: HttpSettings, **options: object) -> object:
    from generated.server import channels, router

    return create_app(router, channels=channels, http=http, **options)


def test_listed_origins_pass_the_preflight_and_others_do_not() -> None:
    for running in serve_in_thread(example_app(HttpSettings(cors_origins=[ALLOWED]))):
        allowed = preflight(running.base_url, ALLOWED)
        assert allowed.status_code in (200, 204)
        assert allowed.headers["access-control-allow-origin"] == ALLOWED
        assert "POST" in allowed.headers["access-control-allow-methods"]
        assert "last-event-id" in allowed.headers["access-control-allow-headers"].lower()

        refused = preflight(running.base_url, "http://elsewhere.example")
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers

        answered = httpx.post(
            f"{running.base_url}/hello/say", json={"name": "Ada"}, headers={"origin": ALLOWED}
        )
        assert answered.headers["access-control-allow-origin"] == ALLOWED


def test_without_origins_no_cors_header_is_sent() -> None:
    for running in serve_in_thread(example_app(HttpSettings())):
        answered = httpx.post(
            f"{running.base_url}/hello/say", json={"name": "Ada"}, headers={"origin": ALLOWED}
        )
        assert answered.json()["success"] is True
        assert "access-control-allow-origin" not in answered.headers


def test_the_environment_overrides_what_the_build_wrote(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILKIO_HTTP_CORS_ORIGINS", '["http://deployed.example"]')
    monkeypatch.setenv("MILKIO_HTTP_CORS_CREDENTIALS", "true")
    settings = HttpSettings(cors_origins=[ALLOWED])
    assert settings.cors_origins == ["http://deployed.example"]
    assert settings.cors_credentials is True


def test_pages_are_served_beside_the_apis_and_the_apps_own_routes(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>home</title>")

    @get("/health", sync_to_thread=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    http = HttpSettings(static={"/web": str(tmp_path)})
    for running in serve_in_thread(example_app(http, route_handlers=[health])):
        page = httpx.get(f"{running.base_url}/web/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "home" in page.text
        assert httpx.get(f"{running.base_url}/health").json() == {"status": "ok"}
        assert httpx.get(f"{running.base_url}/web/missing.html").status_code == 404

        greeted = httpx.post(f"{running.base_url}/hello/say", json={"name": "Ada"})
        assert greeted.json()["data"]["message"] == "Hello, Ada!"
        unknown = httpx.post(f"{running.base_url}/no/such/api", json={})
        assert unknown.status_code == 200
        assert unknown.json()["fail"]["code"] == "NOT_FOUND"
        streamed = httpx.post(
            f"{running.base_url}/no/such/api", json={}, headers={"accept": "text/event-stream"}
        )
        assert streamed.headers["content-type"].startswith("text/event-stream")
        assert '"code":"NOT_FOUND"' in streamed.text


def test_a_missing_directory_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    http = HttpSettings(static={"/web": str(tmp_path / "not-built")})
    with caplog.at_level(logging.WARNING, logger="milkio_gen.server"):
        app = example_app(http)
    assert "not serving /web: no directory" in caplog.text
    for running in serve_in_thread(app):
        greeted = httpx.post(f"{running.base_url}/hello/say", json={"name": "Ada"})
        assert greeted.json()["success"] is True


def test_a_bad_http_table_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.milkio-gen]\napp = "app"\n\n[tool.milkio-gen.http]\ncors_origins = "*"\n'
    )
    milkio_gen = str(Path(sys.executable).parent / "milkio-gen")
    refused = subprocess.run(
        [milkio_gen, "build"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2
    assert "[tool.milkio-gen.http] in pyproject.toml: cors_origins" in refused.stderr


def test_only_a_post_no_route_has_gets_the_protocols_not_found() -> None:
    from generated.server import apis, channels, fail_codes

    @post("/users/42", sync_to_thread=False)
    def user() -> dict[str, str]:
        raise NotFoundException("user 42 is not there")

    prefixed = create_router(apis, fail_codes=fail_codes, path="/rpc")
    app = create_app(prefixed, channels=channels, route_handlers=[user])
    for running in serve_in_thread(app):
        own = httpx.post(f"{running.base_url}/users/42")
        assert (own.status_code, own.json()["detail"]) == (404, "user 42 is not there")
        unknown = httpx.post(f"{running.base_url}/rpc/no/such/api", json={})
        assert unknown.json()["fail"]["code"] == "NOT_FOUND"
        elsewhere = httpx.post(f"{running.base_url}/elsewhere", json={})
        assert elsewhere.status_code == 404, "outside the router's prefix: Litestar's 404"
        assert httpx.get(f"{running.base_url}/rpc/no/such/api").status_code == 404

    uncaught = create_router(apis, fail_codes=fail_codes, catch_unknown_paths=False)
    for running in serve_in_thread(create_app(uncaught, channels=channels)):
        assert httpx.post(f"{running.base_url}/no/such/api", json={}).status_code == 404


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"cors_origins": ["*"], "cors_credentials": True}, "needs the origins listed"),
        ({"cors_origins": ["https://app.example.com/"]}, "is not an origin"),
        ({"static": {"web": "dist"}}, "is not a URL path"),
    ],
)
def test_settings_browsers_would_refuse_are_refused_at_once(
    options: dict[str, object], said: str
) -> None:
    with pytest.raises(ValidationError, match=said):
        HttpOptions.model_validate(options)


def test_a_bad_environment_setting_stops_serve_with_exit_code_2(tmp_path: Path) -> None:
    milkio_gen = str(Path(sys.executable).parent / "milkio-gen")
    refused = subprocess.run(
        [milkio_gen, "serve"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "MILKIO_HTTP_CORS_MAX_AGE": "-1"},
    )  # fmt: skip
    assert refused.returncode == 2
    assert "MILKIO_HTTP_" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_bad_server_setting_stops_serve_with_exit_code_2() -> None:
    milkio_gen = str(Path(sys.executable).parent / "milkio-gen")
    refused = subprocess.run(
        [milkio_gen, "serve"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "MILKIO_SERVER_MAX_STREAMS_PER_CLIENT": "zero"},
    )  # fmt: skip
    assert refused.returncode == 2
    assert "MILKIO_SERVER_" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_null_in_the_environment_lifts_a_limit_set_at_build_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from milkio_gen.server_settings import ServerSettings

    monkeypatch.setenv("MILKIO_SERVER_RATE_LIMIT", "null")
    monkeypatch.setenv("MILKIO_SERVER_MAX_STREAMS_PER_CLIENT", "null")
    settings = ServerSettings(rate_limit=("minute", 10), max_streams_per_client=5)
    assert settings.rate_limit is None
    assert settings.max_streams_per_client is None
    monkeypatch.setenv("MILKIO_SERVER_RATE_LIMIT", '["second", 3]')
    assert ServerSettings().rate_limit == ("second", 3)
