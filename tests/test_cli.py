"""What the command line shows: help with examples and exit codes, colour on a terminal only,
`--quiet`, and a progress bar once a build runs past a second. Terminals are real: the
command runs on a pseudo-terminal, as in a shell."""

from __future__ import annotations

import os
import pty
import re
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

MILKIO_GEN = str(Path(sys.executable).parent / "milkio-gen")
RED = "\x1b[31m"
ANSI = re.compile(r"\x1b\[")
COLOUR = re.compile(r"\x1b\[[0-9;]*m")
"""A colour or style: a progress bar may still move the cursor."""

SLOW_APP = '''
import time

from milkio_gen import define_api

time.sleep({seconds})  # an app whose import takes a while


@define_api()
async def ping() -> str:
    """Answers."""
    return "pong"
'''

BROKEN_APP = """
from milkio_gen import define_api


@define_api()
def not_async() -> str:
    return "sync"
"""


def project(tmp_path: Path, source: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.milkio-gen]\napp = "app"\nschema = "schema/manifest.json"\nout = "gen"\n'
    )
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "api.py").write_text(source)
    return tmp_path


def environ(**changes: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return {**base, "TERM": "xterm-256color", "COLUMNS": "120", **changes}


def in_terminal(
    arguments: list[str], cwd: Path, seconds: float = 60, **env: str
) -> tuple[int, str]:
    """Run on a pseudo-terminal (stdout and stderr both); its exit code and all it drew."""
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        arguments, cwd=cwd, env=environ(**env), stdin=secondary, stdout=secondary,
        stderr=secondary, close_fds=True,
    )  # fmt: skip
    os.close(secondary)
    drawn = bytearray()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.2)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(primary, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not data:
                break
            drawn += data
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(primary)
        if process.poll() is None:
            process.kill()
            process.wait()
    return code, drawn.decode(errors="replace")


def piped(arguments: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        arguments, cwd=cwd, env=environ(**env), capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("command", ["build", "new", "dev", "serve"])
def test_every_help_has_examples_and_exit_codes(command: str, tmp_path: Path) -> None:
    shown = piped([MILKIO_GEN, command, "--help"], tmp_path)
    assert shown.returncode == 0
    examples = shown.stdout.split("Examples:")[1]
    assert f"milkio-gen {command}" in examples
    assert "Exit codes:" in shown.stdout
    assert "2  a usage or configuration error" in shown.stdout


def test_top_help_has_examples_exit_codes_and_the_version(tmp_path: Path) -> None:
    shown = piped([MILKIO_GEN, "--help"], tmp_path)
    assert shown.returncode == 0
    for example in ("milkio-gen new shop", "milkio-gen dev", "milkio-gen build --check"):
        assert example in shown.stdout
    assert "1  the build failed; with --check, files are out of date" in shown.stdout
    version = piped([MILKIO_GEN, "--version"], tmp_path)
    assert re.fullmatch(r"milkio-gen \d+\.\d+\.\d+\S*\n", version.stdout)


def test_exit_codes_are_the_documented_ones(tmp_path: Path) -> None:
    assert piped([MILKIO_GEN, "build", "--no-such-option"], tmp_path).returncode == 2
    assert piped([MILKIO_GEN, "build"], tmp_path).returncode == 2, "no app configured"
    broken = project(tmp_path / "broken", BROKEN_APP)
    assert piped([MILKIO_GEN, "build"], broken).returncode == 1
    good = project(tmp_path / "good", SLOW_APP.format(seconds=0))
    assert piped([MILKIO_GEN, "build", "--check"], good).returncode == 1, "out of date"
    assert piped([MILKIO_GEN, "build"], good).returncode == 0
    assert piped([MILKIO_GEN, "build", "--check"], good).returncode == 0


@pytest.mark.timeout(120)
def test_errors_are_red_on_a_terminal_and_plain_in_a_pipe_or_with_no_color(
    tmp_path: Path,
) -> None:
    broken = project(tmp_path, BROKEN_APP)
    code, drawn = in_terminal([MILKIO_GEN, "build"], broken)
    assert code == 1
    assert "is not an async function" in drawn
    assert RED in drawn

    in_pipe = piped([MILKIO_GEN, "build"], broken)
    assert in_pipe.returncode == 1
    assert "is not an async function" in in_pipe.stderr
    assert not ANSI.search(in_pipe.stderr + in_pipe.stdout)

    code, drawn = in_terminal([MILKIO_GEN, "build"], broken, NO_COLOR="1")
    assert code == 1
    assert "is not an async function" in drawn
    assert not COLOUR.search(drawn)

    forced = piped([MILKIO_GEN, "build"], broken, FORCE_COLOR="1")
    assert RED in forced.stderr


def test_quiet_prints_only_errors(tmp_path: Path) -> None:
    good = project(tmp_path / "good", SLOW_APP.format(seconds=0))
    built = piped([MILKIO_GEN, "build", "--quiet"], good)
    assert built.returncode == 0
    assert (built.stdout, built.stderr) == ("", "")
    assert (good / "gen" / "client.py").is_file()
    assert piped([MILKIO_GEN, "build", "-q"], good).stdout == ""

    broken = project(tmp_path / "broken", BROKEN_APP)
    failed = piped([MILKIO_GEN, "build", "-q"], broken)
    assert failed.returncode == 1
    assert "is not an async function" in failed.stderr
    assert "build failed: 1 error(s)" in failed.stderr


@pytest.mark.timeout(120)
def test_a_build_past_a_second_shows_a_progress_bar_on_a_terminal_only(tmp_path: Path) -> None:
    slow = project(tmp_path / "slow", SLOW_APP.format(seconds=1.6))
    code, drawn = in_terminal([MILKIO_GEN, "build"], slow)
    assert code == 0, drawn
    assert "building" in drawn
    assert "import the app: app.api" in drawn, "the module being imported is named"
    assert re.search(r"built 1 API: 8 files written, 0 unchanged \(\d+\.\d+s\)", drawn)

    in_pipe = piped([MILKIO_GEN, "build"], slow)
    assert in_pipe.returncode == 0
    assert "building" not in in_pipe.stdout + in_pipe.stderr
    assert not ANSI.search(in_pipe.stdout + in_pipe.stderr)

    code, drawn = in_terminal([MILKIO_GEN, "build", "--quiet"], slow)
    assert code == 0
    assert drawn == ""

    fast = project(tmp_path / "fast", SLOW_APP.format(seconds=0))
    for _ in range(3):  # a build of one API takes about 0.3 s; a loaded machine may slow one
        code, drawn = in_terminal([MILKIO_GEN, "build"], fast)
        assert code == 0
        took = float(re.findall(r"\((\d+\.\d+)s\)", drawn)[-1])
        if took < 0.8:
            break
    assert took < 0.8, "no build of one API within 0.8 s"
    assert "building" not in drawn, "no bar for a build within a second"


def test_dev_on_a_port_in_use_says_so_and_exits_2(tmp_path: Path) -> None:
    good = project(tmp_path, SLOW_APP.format(seconds=0))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        refused = piped([MILKIO_GEN, "dev", "--port", port], good)
    assert refused.returncode == 2
    assert f"127.0.0.1:{port} is in use" in refused.stderr
    assert not (good / "gen").exists(), "nothing built"


def test_serve_before_a_build_says_what_to_run_and_exits_2(tmp_path: Path) -> None:
    unbuilt = project(tmp_path, SLOW_APP.format(seconds=0))
    refused = piped([MILKIO_GEN, "serve"], unbuilt)
    assert refused.returncode == 2
    assert "run `milkio-gen build`" in refused.stderr
