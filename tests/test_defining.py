"""Ways of defining APIs: params kinds, stream annotations, paths, meta, and the context."""

from __future__ import annotations

import json
import logging

import pytest

from tests.conftest import ROOT, GeneratedPackage, RunningServer


def probe_manifest(probe: GeneratedPackage) -> dict[str, dict[str, object]]:
    manifest = json.loads((probe.directory / "schema" / "manifest.json").read_text())
    return {api["path"]: api for api in manifest["apis"]}


async def test_typed_dict_and_dataclass_params(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    async with probe.client.AsyncClient(base_url=probe_server.base_url) as client:
        summed = await client.forms.typed_dict.execute(params={"x": 2, "y": 3})
        area = await client.forms.dataclass_params.execute(params={"width": 2.0, "height": 1.5})
    assert summed
    assert summed.data == 5
    assert area
    assert area.data == 3.0


@pytest.mark.parametrize("form", ["iterator", "iterable", "generator"])
async def test_every_stream_annotation_makes_a_stream(
    probe: GeneratedPackage, probe_server: RunningServer, form: str
) -> None:
    assert probe_manifest(probe)[f"forms/{form}"]["kind"] == "stream"
    async with probe.client.AsyncClient(base_url=probe_server.base_url) as client:
        call = client.execute_stream(f"forms/{form}", params={"x": 7, "y": 0})
        assert [chunk async for chunk in call.stream] == [7]


def test_paths_follow_modules_and_function_names(probe: GeneratedPackage) -> None:
    apis = probe_manifest(probe)
    assert "forms/typed-dict" in apis, "a function not named `action` adds /<name>, kebab-case"
    assert "custom/place" in apis, "an explicit path= wins"
    assert apis["custom/place"]["meta"] == {"auth": "none"}
    example = json.loads((ROOT / "schema/manifest.json").read_text())
    assert "your-stream-api" in {api["path"] for api in example["apis"]}


async def test_context_gives_the_request_and_a_logger_with_the_execute_id(
    probe: GeneratedPackage, probe_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="milkio_gen.app")
    async with probe.client.AsyncClient(base_url=probe_server.base_url) as client:
        result = await client.execute("custom/place")
    assert result
    assert result.data == "/custom/place"
    (line,) = [r for r in caplog.records if r.name == "milkio_gen.app"]
    assert line.getMessage() == f"[{result.execute_id}] serving custom/place"
    assert line.__dict__["execute_id"] == result.execute_id


async def test_the_request_is_sent_on_first_iteration_not_before(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    from tests.probe_app.recorder import record

    key = "first-iteration-" + probe_server.base_url
    async with probe.client.AsyncClient(base_url=probe_server.base_url) as client:
        call = client.lifecycle.spin.execute_stream(params={"key": key})
        stream = call.stream
        assert record(key).chunks == 0, "nothing was sent before iterating"
        assert await anext(stream) >= 1
        await stream.aclose()
