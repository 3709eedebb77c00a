"""`milkio-gen build`: the manifest, the generated files, `--check`, and build errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from milkio_gen.build import render_files
from milkio_gen.config import load_config

from tests.conftest import ROOT, lint_and_type_check


def milkio_gen(*arguments: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "milkio_gen", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_committed_schema_and_generated_match_a_fresh_build() -> None:
    """The golden copy: regenerate in memory and compare with what is committed."""
    _, files = render_files(load_config(ROOT))
    assert set(files) == {
        Path("schema/manifest.json"),
        Path("schema/manifest.schema.json"),
        Path("generated/__init__.py"),
        Path("generated/models.py"),
        Path("generated/client.py"),
        Path("generated/server.py"),
        Path("generated/py.typed"),
        Path("generated/client.ts"),
    }
    for path, content in files.items():
        assert (ROOT / path).read_bytes() == content, f"{path} is stale: run scripts/regen"


def test_manifest_validates_against_its_own_schema() -> None:
    manifest = json.loads((ROOT / "schema/manifest.json").read_text())
    schema = json.loads((ROOT / "schema/manifest.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(manifest, schema, cls=jsonschema.Draft202012Validator)
    broken = {**manifest, "apis": [{**manifest["apis"][0], "kind": "sometimes"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, cls=jsonschema.Draft202012Validator)


def test_manifest_describes_every_api_of_the_example() -> None:
    manifest = json.loads((ROOT / "schema/manifest.json").read_text())
    apis = {api["path"]: api for api in manifest["apis"]}
    assert set(apis) == {
        "account/login",
        "account/me",
        "chat/send",
        "chat/subscribe",
        "hello/say",
        "llm/complete",
        "orders/place",
        "your-stream-api",
    }
    clock = apis["your-stream-api"]
    assert clock["kind"] == "stream"
    assert clock["chunk"] == {"type": "string"}
    assert clock["params"] == {"$ref": "#/$defs/YourStreamApiParams"}
    source_lines = (ROOT / "examples/app/your_stream_api.py").read_text().splitlines()
    line = source_lines.index("@define_api(meta={})") + 1
    assert clock["source"] == {"file": "examples/app/your_stream_api.py", "line": line}
    assert clock["python"] == {"module": "examples.app.your_stream_api", "name": "action"}
    assert clock["doc"].startswith("Greets, then tells the time")
    assert apis["hello/say"]["result"] == {"$ref": "#/$defs/Greeting"}
    codes = {fail["code"]: fail for fail in manifest["fail_codes"]}
    assert codes["OUT_OF_STOCK"] == {
        "code": "OUT_OF_STOCK",
        "builtin": False,
        "retryable": False,
        "doc": "Fewer items are in stock than were ordered.",
        "data": {"$ref": "#/$defs/OutOfStock"},
    }
    assert {"NOT_FOUND", "TYPE_SAFE_ERROR", "INTERNAL_SERVER_ERROR", "NETWORK_ERROR"} <= set(codes)
    # What the server sends has every field of a model, defaults included.
    assert manifest["$defs"]["TypeSafeErrorData"]["required"] == ["path", "expected", "value"]
    room_lines = (ROOT / "examples/app/chat/room.py").read_text().splitlines()
    assert manifest["channels"] == [
        {
            "name": "room",
            "python": {"module": "examples.app.chat.room", "name": "rooms"},
            "source": {
                "file": "examples/app/chat/room.py",
                "line": room_lines.index('rooms = Channel("room", Message)') + 1,
            },
            "message": {"$ref": "#/$defs/Message"},
        }
    ]
    assert apis["chat/subscribe"]["tracked"] is True
    assert apis["account/me"]["meta"] == {"auth": "user"}
    assert [(hook["kind"], hook["python"]["name"]) for hook in manifest["hooks"]] == [
        ("before_execute", "authenticate"),
        ("on_chunk", "count_tokens"),
        ("after_execute", "report_usage"),
    ]
    assert manifest["hooks_python"] == {"module": "examples.app.hooks", "name": "hooks"}


def test_build_flags_check_and_stable_bytes(tmp_path: Path) -> None:
    out, schema = tmp_path / "gen", tmp_path / "schema" / "manifest.json"
    flags = ["--app", "tests.probe_app", "--schema", str(schema), "--out", str(out)]

    missing = milkio_gen("build", "--check", *flags)
    assert missing.returncode == 1
    assert "stale:" in missing.stderr
    assert not out.exists(), "--check writes nothing"

    first = milkio_gen("build", *flags)
    assert first.returncode == 0, first.stderr
    assert re.match(r"built \d+ APIs: 8 files written, 0 unchanged \(\d+\.\d+s\)", first.stdout)
    written = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}

    again = milkio_gen("build", *flags)
    assert "0 files written, 8 unchanged" in again.stdout
    assert {path: path.read_bytes() for path in written} == written

    assert milkio_gen("build", "--check", *flags).returncode == 0
    (out / "models.py").write_text("# edited by hand\n")
    stale = milkio_gen("build", "--check", *flags)
    assert stale.returncode == 1
    assert f"stale: {(out / 'models.py').as_posix()}" in stale.stderr


def test_generated_files_start_with_a_do_not_edit_header() -> None:
    for name in ("__init__.py", "models.py", "client.py", "server.py"):
        head = (ROOT / "generated" / name).read_text().splitlines()[:2]
        assert head[0].startswith("# Generated by milkio-gen from schema/manifest.json (sha256 ")
        assert head[1].startswith("# Do not edit")


def test_generated_code_passes_ruff_and_strict_pyright(tmp_path: Path) -> None:
    """The example's package is checked by scripts/check; this checks the probe app's too."""
    out = tmp_path / "probe_gen"
    assert (
        milkio_gen(
            "build",
            "--app",
            "tests.probe_app",
            "--out",
            str(out),
            "--schema",
            str(tmp_path / "m.json"),
        ).returncode
        == 0
    )
    lint_and_type_check(tmp_path, "probe_gen")


def test_every_error_of_an_app_is_reported_at_once_with_file_line_and_fix(tmp_path: Path) -> None:
    result = milkio_gen(
        "build", "--app", "tests.bad_apps.many", "--out", str(tmp_path / "gen"),
        "--schema", str(tmp_path / "m.json"),
    )  # fmt: skip
    assert result.returncode == 1
    errors = result.stderr
    expected = [
        ("tests/bad_apps/many/nested/broken.py:5", "syntax error"),
        ("tests/bad_apps/many/sync_function.py:10", "is not an async function"),
        ("tests/bad_apps/many/sync_generator.py:6", "is a sync generator"),
        ("tests/bad_apps/many/unannotated.py:4", "parameter 'params' has no type annotation"),
        ("tests/bad_apps/many/no_return.py:4", "has no return annotation"),
        ("tests/bad_apps/many/wrong_stream_return.py:4", "its return annotation is list[int]"),
        ("tests/bad_apps/many/uncarried.py:10", "[uncarried/chunks] chunk is the class Opaque"),
        ("tests/bad_apps/many/uncarried.py:15", "[uncarried/callback] result is a callable"),
        ("tests/bad_apps/many/silent_any.py:19", "[silent-any] params.tags is a bare `list`"),
        (
            "tests/bad_apps/many/silent_any.py:19",
            "[silent-any] params.page is the generic model Page",
        ),
        ("tests/bad_apps/many/silent_any.py:19", "[silent-any] result is a bare `dict`"),
        ("tests/bad_apps/many/duplicate.py:9", "two APIs have the path 'same/path'"),
        ("tests/bad_apps/many/duplicate.py:14", "has no valid API path ('/bad path')"),
        ("tests/bad_apps/many/channels.py:12", "two channels are named 'notes'"),
        ("tests/bad_apps/many/channels.py:13", "channel 'callbacks': message is a callable"),
    ]
    for location, problem in expected:
        matching = [line for line in errors.splitlines() if line.startswith(f"error: {location}:")]
        assert matching, f"no error at {location}:\n{errors}"
        assert any(problem in line for line in matching), f"{problem!r} not in {matching}"
    assert errors.count("  fix: ") == len(expected)
    assert f"build failed: {len(expected)} error(s)" in errors
    assert not (tmp_path / "gen").exists()


def test_missing_app_is_a_clear_usage_error(tmp_path: Path) -> None:
    result = milkio_gen("build", cwd=tmp_path)
    assert result.returncode == 2
    assert "no app package given" in result.stderr


def test_app_from_config_in_another_project(tmp_path: Path) -> None:
    """`[tool.milkio-gen]` of the project in the current directory picks app, schema and out."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    (tmp_path / "pyproject.toml").write_text(
        "[tool.milkio-gen]\n"
        'app = "examples.app"\nschema = "api/manifest.json"\nout = "client_pkg"\n'
    )
    result = milkio_gen("build", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "api" / "manifest.json").is_file()
    client = (tmp_path / "client_pkg" / "client.py").read_text()
    assert "class AsyncClient(AsyncClientCore[Fail]):" in client
    assert "# Generated by milkio-gen from api/manifest.json" in client
