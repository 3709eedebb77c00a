"""Hooks around every execute, typed meta and the app's context, on a real server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, GeneratedPackage, RunningServer, build_package, serve_in_thread
from tests.hooks_app.hooks import EVENTS, OUTCOMES
from tests.test_build import milkio_gen


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> GeneratedPackage:
    return build_package("tests.hooks_app", tmp_path_factory.mktemp("hooked"), "hooks_gen")


@pytest.fixture(scope="module")
def server(hooked: GeneratedPackage) -> Iterator[RunningServer]:
    yield from serve_in_thread(hooked.server.app)


@pytest.fixture(autouse=True)
def fresh_events() -> None:
    EVENTS.clear()
    OUTCOMES.clear()


async def after_hooks_ran() -> None:
    """Wait for the after hooks, which run once the answer is sent, so a client may have it
    first; `outer`, registered first, runs last."""
    for _ in range(500):
        if OUTCOMES:
            return
        await asyncio.sleep(0.01)
    pytest.fail("the after hooks did not run")


async def test_hooks_run_in_their_order_around_the_action(
    hooked: GeneratedPackage, server: RunningServer
) -> None:
    async with hooked.client.AsyncClient(
        base_url=server.base_url, headers={"authorization": "Bearer ada"}
    ) as client:
        result = await client.calls.whoami.execute()
    assert result
    assert result.data == "ada"
    await after_hooks_ran()
    assert EVENTS == [
        "before:first:calls/whoami",
        "before:authenticate",
        "action:whoami",
        "after:inner:0",
        "after:outer:success",
    ]
    (outcome,) = OUTCOMES
    assert outcome.result == "ada"
    assert outcome.fail_code is None
    assert 0 < outcome.duration < 5


async def test_a_before_hook_rejects_with_a_typed_fail_and_the_action_never_runs(
    hooked: GeneratedPackage, server: RunningServer
) -> None:
    async with hooked.client.AsyncClient(base_url=server.base_url) as client:
        result = await client.calls.whoami.execute()
    assert not result
    assert isinstance(result.fail, hooked.client.UnauthorizedFail)
    assert result.fail.data.reason == "no token"
    await after_hooks_ran()
    assert "action:whoami" not in EVENTS
    assert EVENTS[-1] == "after:outer:fail"
    assert OUTCOMES[0].fail_code == "UNAUTHORIZED"


async def test_a_rejected_caller_learns_nothing_of_the_params(
    hooked: GeneratedPackage, server: RunningServer
) -> None:
    """`before_execute` runs before the params are read: a refused call gets the hook's fail
    even with params that would not validate."""
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{server.base_url}/calls/whoami", content=b"{not json")
    assert response.json()["fail"]["code"] == "UNAUTHORIZED"


async def test_a_hook_that_raises_is_an_internal_error_logged_with_the_execute_id(
    hooked: GeneratedPackage, server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="milkio_gen.server")
    async with hooked.client.AsyncClient(base_url=server.base_url) as client:
        result = await client.calls.broken_before.execute()
    assert not result
    assert result.fail.code == "INTERNAL_SERVER_ERROR"
    assert "broke" not in result.fail.message
    assert "action:broken_before" not in EVENTS
    (record,) = [r for r in caplog.records if r.name == "milkio_gen.server"]
    assert record.__dict__["execute_id"] == result.execute_id
    assert "before_execute hook first raised" in record.getMessage()
    assert record.exc_info is not None


async def test_an_after_hook_that_raises_changes_nothing_for_the_client(
    hooked: GeneratedPackage, server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="milkio_gen.server")
    async with hooked.client.AsyncClient(base_url=server.base_url) as client:
        result = await client.calls.broken_after.execute()
    assert result
    assert result.data == "fine"
    await after_hooks_ran()
    assert EVENTS[-1] == "after:outer:success", "the other after hooks still ran"
    (record,) = [r for r in caplog.records if r.name == "milkio_gen.server"]
    assert "after_execute hook inner raised" in record.getMessage()


async def test_chunk_hooks_see_every_chunk_in_order(
    hooked: GeneratedPackage, server: RunningServer
) -> None:
    async with hooked.client.AsyncClient(base_url=server.base_url) as client:
        call = client.calls.say.execute_stream(params={"words": ["a", "b", "c"]})
        assert [chunk async for chunk in call.stream] == ["a", "b", "c"]
    assert call.get_result()
    await after_hooks_ran()
    assert EVENTS[2:] == [
        "chunk:a",
        "chunk:b",
        "chunk:c",
        "action:say:finally",
        "after:inner:3",
        "after:outer:success",
    ]
    assert OUTCOMES[0].chunks == 3


async def test_chunk_hooks_get_the_chunk_inside_a_tracked_one(
    hooked: GeneratedPackage, server: RunningServer
) -> None:
    async with hooked.client.AsyncClient(base_url=server.base_url) as client:
        call = client.calls.tracked.execute_stream(params={"words": ["x", "y"]})
        assert [chunk async for chunk in call.stream] == ["x", "y"]
    assert [event for event in EVENTS if event.startswith("chunk:")] == ["chunk:x", "chunk:y"]


async def test_a_chunk_hook_rejects_and_ends_the_stream_with_its_fail(
    hooked: GeneratedPackage, server: RunningServer
) -> None:
    async with hooked.client.AsyncClient(base_url=server.base_url) as client:
        call = client.calls.say.execute_stream(params={"words": ["calm", "LOUD", "never"]})
        assert [chunk async for chunk in call.stream] == ["calm"]
    result = call.get_result()
    assert not result
    assert isinstance(result.fail, hooked.client.TooLoudFail)
    assert result.fail.data == "LOUD"
    await after_hooks_ran()
    assert "chunk:never" not in EVENTS
    assert "action:say:finally" in EVENTS, "the action's generator was closed"
    assert OUTCOMES[0].fail_code == "TOO_LOUD"
    assert OUTCOMES[0].chunks == 1


async def test_a_chunk_hook_that_raises_is_an_internal_error(
    hooked: GeneratedPackage, server: RunningServer
) -> None:
    async with hooked.client.AsyncClient(base_url=server.base_url) as client:
        call = client.calls.broken_chunk.execute_stream()
        assert [chunk async for chunk in call.stream] == []
    result = call.get_result()
    assert not result
    assert result.fail.code == "INTERNAL_SERVER_ERROR"


async def test_a_stream_the_client_stops_ends_with_a_stopped_outcome(
    hooked: GeneratedPackage, server: RunningServer
) -> None:
    async with hooked.client.AsyncClient(base_url=server.base_url) as client:
        call = client.calls.forever.execute_stream()
        async for chunk in call.stream:
            if chunk == 3:
                break
    await after_hooks_ran()
    (outcome,) = OUTCOMES
    assert outcome.status == "stopped"
    assert outcome.stop_reason == "disconnected"
    assert outcome.chunks >= 4


def test_the_manifest_lists_the_hooks_in_the_order_they_run(hooked: GeneratedPackage) -> None:
    import json

    manifest = json.loads((hooked.directory / "schema" / "manifest.json").read_text())
    listed = [(hook["kind"], hook["python"]["name"]) for hook in manifest["hooks"]]
    assert listed == [
        ("before_execute", "first"),
        ("before_execute", "authenticate"),
        ("on_chunk", "count"),
        ("on_chunk", "note_chunk"),
        ("after_execute", "inner"),
        ("after_execute", "outer"),
    ]
    apis = {api["path"]: api for api in manifest["apis"]}
    assert apis["calls/whoami"]["meta"] == {"auth": "user"}
    assert apis["calls/broken-before"]["meta"] == {"explode_in": "before"}
    assert set(manifest["meta"]["properties"]) == {"auth", "explode_in", "max_duration"}


def test_meta_and_hooks_are_checked_by_the_build(tmp_path: Path) -> None:
    result = milkio_gen(
        "build", "--app", "tests.bad_apps.hooked", "--out", str(tmp_path / "gen"),
        "--schema", str(tmp_path / "m.json"),
    )  # fmt: skip
    assert result.returncode == 1
    expected = [
        ("tests/bad_apps/hooked/apis.py:13", "its meta is not a valid Meta: auht: Extra inputs"),
        ("tests/bad_apps/hooked/apis.py:18", "auth: Input should be 'public' or 'user'"),
        (
            "tests/bad_apps/hooked/apis.py:23",
            "it takes `context: OtherContext`, but the app's hooks make `AppContext` contexts",
        ),
        (
            "tests/bad_apps/hooked/elsewhere.py:4",
            "hook audit is registered in tests.bad_apps.hooked.elsewhere, not in "
            "tests.bad_apps.hooked.hooks",
        ),
        (
            "tests/bad_apps/hooked/hooks.py:19",
            "after_execute hook report cannot be called as report(context, outcome)",
        ),
    ]
    assert "fix: use the fields of Meta (auth, max_duration), or add the key to it" in result.stderr
    assert "the app declares hooks in more than one place: " in result.stderr
    assert "tests.bad_apps.hooked.twice.more_hooks" in result.stderr
    for location, text in expected:
        assert any(location in line and text in line for line in result.stderr.splitlines()), (
            location,
            text,
            result.stderr,
        )


def test_an_api_without_hooks_keeps_meta_to_what_the_server_reads(tmp_path: Path) -> None:
    """With no meta model of its own, an app's meta may only say what `ApiMeta` says."""
    package = tmp_path / "loose_app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "api.py").write_text(
        "from milkio_gen import define_api\n\n"
        "@define_api(meta={'max_duration': 5, 'owner': 'me'})\n"
        "async def action() -> str:\n"
        "    return 'hi'\n"
    )
    result = milkio_gen(
        "build", "--app", "loose_app", "--out", str(tmp_path / "gen"),
        "--schema", str(tmp_path / "m.json"), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert "loose_app/api.py:3: [api] its meta is not a valid ApiMeta: owner" in result.stderr
    assert "declare a meta model of the app's own" in result.stderr


def test_the_example_apps_generated_server_passes_its_hooks() -> None:
    server = (ROOT / "generated" / "server.py").read_text()
    assert "from examples.app.hooks import hooks as _hooks" in server
    assert "create_router(apis, settings=settings)" in server
    assert "fail_codes=fail_codes,\n    hooks=hooks," in server


def test_a_line_logged_by_any_code_during_a_call_names_its_execute_id(
    hooked: GeneratedPackage,
) -> None:
    """Through the app's own logging set-up (Litestar's, with the execute id filter), a
    library's line written inside the action carries the call's id."""
    import subprocess
    import sys

    script = (
        "import httpx, threading, time, uvicorn\n"
        "from hooks_gen.server import app\n"
        "server = uvicorn.Server(uvicorn.Config(app, port=0, log_level='warning'))\n"
        "threading.Thread(target=server.run, daemon=True).start()\n"
        "while not server.started: time.sleep(0.01)\n"
        "port = server.servers[0].sockets[0].getsockname()[1]\n"
        "answer = httpx.post(f'http://127.0.0.1:{port}/calls/whoami',\n"
        "    headers={'authorization': 'Bearer ada'}).json()\n"
        "print('EXECUTE', answer['executeId'], flush=True)\n"
        "server.should_exit = True\n"
        "time.sleep(0.3)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env={"PYTHONPATH": f"{hooked.directory.parent}:{ROOT}", "PATH": "/usr/bin:/bin"},
        check=True,
    )
    execute_id = next(
        line.split()[1] for line in done.stdout.splitlines() if line.startswith("EXECUTE")
    )
    output = done.stdout + done.stderr
    (library_line,) = [line for line in output.splitlines() if "a library logs" in line]
    assert f"[{execute_id}] a library logs while serving ada" in library_line
    (execute_line,) = [line for line in output.splitlines() if "milkio_gen.execute" in line]
    assert f"[{execute_id}] calls/whoami success in " in execute_line


@pytest.mark.parametrize(
    ("path", "params"), [("calls/picky", {"value": 1}), ("calls/self-cancelled", None)]
)
async def test_errors_outside_the_actions_code_are_fails_the_after_hooks_see(
    hooked: GeneratedPackage, server: RunningServer, path: str, params: object
) -> None:
    """A validator raising what pydantic does not wrap, an action whose own await was
    cancelled: an `INTERNAL_SERVER_ERROR` envelope, never the server's 500 page."""
    async with hooked.client.AsyncClient(base_url=server.base_url) as client:
        result = await client.execute(path, params=params)  # pyright: ignore[reportCallIssue, reportArgumentType]
    assert not result
    assert result.fail.code == "INTERNAL_SERVER_ERROR"
    assert result.execute_id is not None
    await after_hooks_ran()
    assert OUTCOMES[0].fail_code == "INTERNAL_SERVER_ERROR"


async def test_a_content_type_refusal_comes_before_any_hook(server: RunningServer) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{server.base_url}/calls/whoami", headers={"content-type": "text/plain"}
        )
    assert answer.json()["fail"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    await asyncio.sleep(0.1)
    assert EVENTS == []
