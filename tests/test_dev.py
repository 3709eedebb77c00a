"""`milkio-gen dev` on a new project, as a user works: save a change, see it served; save a
broken action, keep the last good build and server; fix it, go on."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import psutil
import pytest

from tests.dev_project import greeting, new_project, running_dev, wait_until
from tests.processes import free_port


@pytest.mark.timeout(120)
def test_dev_rebuilds_and_restarts_on_save_and_keeps_the_last_good_build(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "dev.log").open("w+b")
    with running_dev(project, port, log):
        wait_until(lambda: greeting(base_url) is not None, 30, "the server answers")
        assert greeting(base_url) == {"message": "Hello, Ada!"}

        hello = project / "shop" / "app" / "hello.py"
        models = project / "shop" / "generated" / "models.py"
        untouched = [project / "schema" / "manifest.schema.json", models.with_name("py.typed")]
        untouched_before = [path.stat().st_mtime_ns for path in untouched]
        source = hello.read_text()
        hello.write_text(
            source.replace(
                '    message: str = Field(description="The greeting.")\n',
                '    message: str = Field(description="The greeting.")\n'
                '    shout: str = Field(description="The greeting, louder.")\n',
            ).replace(
                'Greeting(message=f"Hello, {params.name}!")',
                'Greeting(message=f"Hello, {params.name}!", shout=f"HELLO, {params.name}!")',
            )
        )
        wait_until(lambda: "shout" in models.read_text(), 20, "the models regenerated")
        wait_until(
            lambda: (greeting(base_url) or {}).get("shout") == "HELLO, Ada!",
            30,
            "the server restarted with the change",
        )
        assert [path.stat().st_mtime_ns for path in untouched] == untouched_before, (
            "a file whose bytes did not change was written"
        )

        good_models = models.read_bytes()
        hello.write_text(hello.read_text() + "\ndef broken(:\n")
        log_text = lambda: log.seek(0) or log.read().decode(errors="replace")  # noqa: E731
        wait_until(lambda: "hello.py:" in log_text() and "build failed" in log_text(), 20,
                   "the error shown with its file and line")  # fmt: skip
        assert models.read_bytes() == good_models, "the last good build stays"
        assert (greeting(base_url) or {}).get("shout") == "HELLO, Ada!", "so does the server"

        hello.write_text(hello.read_text().replace("\ndef broken(:\n", "\n"))
        wait_until(lambda: log_text().count("built 2 APIs") >= 3, 20, "the fix builds")
        wait_until(lambda: greeting(base_url) is not None, 30, "the server answers again")
    log.close()
    wait_until(lambda: greeting(base_url) is None, 10, "the server stopped with dev")


def children_of(dev: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """dev's server and its spare, oldest first, once both run."""
    found: list[psutil.Process] = []

    def both() -> bool:
        found[:] = psutil.Process(dev.pid).children(recursive=True)
        return len(found) == 2

    wait_until(both, 30, "the server, and a spare started ahead of the next save")
    return sorted(found, key=lambda child: child.create_time())


@pytest.mark.timeout(120)
@pytest.mark.parametrize("terminating", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
def test_terminating_dev_stops_its_server_and_its_spare(
    tmp_path: Path, terminating: signal.Signals
) -> None:
    port = free_port()
    with running_dev(new_project(tmp_path), port, subprocess.DEVNULL, "--quiet") as dev:
        wait_until(lambda: greeting(f"http://127.0.0.1:{port}") is not None, 30, "it serves")
        children = children_of(dev)
        dev.send_signal(terminating)  # to dev alone, as a process manager or a closed terminal
        assert dev.wait(20) == 0
        _, alive = psutil.wait_procs(children, timeout=20)
        assert not alive, "a process of dev outlived it"


@pytest.mark.timeout(120)
def test_a_killed_dev_leaves_no_server_behind(tmp_path: Path) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with running_dev(new_project(tmp_path), port, subprocess.DEVNULL, "--quiet") as dev:
        wait_until(lambda: greeting(base_url) is not None, 30, "it serves")
        children = children_of(dev)
        dev.kill()
        _, alive = psutil.wait_procs(children, timeout=20)
        assert not alive, "the server ends with the end of its stdin"
        assert greeting(base_url) is None


@pytest.mark.timeout(120)
def test_dev_starts_on_a_broken_app_and_serves_once_it_is_fixed(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    hello = project / "shop" / "app" / "hello.py"
    good = hello.read_text()
    hello.write_text(good + "\ndef broken(:\n")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = tmp_path / "dev.log"
    with log.open("wb") as output, running_dev(project, port, output):
        wait_until(lambda: "no server runs until a build succeeds" in log.read_text(), 30,
                   "the failed first build said so")  # fmt: skip
        assert greeting(base_url) is None
        hello.write_text(good)
        wait_until(lambda: greeting(base_url) is not None, 30, "it serves once fixed")


@pytest.mark.timeout(120)
def test_a_new_server_that_cannot_start_leaves_the_last_good_one_serving(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = tmp_path / "dev.log"
    hello = project / "shop" / "app" / "hello.py"
    with log.open("wb") as output, running_dev(project, port, output) as dev:
        wait_until(lambda: greeting(base_url) is not None, 30, "it serves")
        server = children_of(dev)[0]
        # Imports in the build (run by the milkio-gen script), fails in a server process.
        hello.write_text(
            "import sys\n\nif sys.argv[0] == '-c':\n    raise RuntimeError('not here')\n\n"
            + hello.read_text().replace("Hello, ", "Hi, ")
        )
        wait_until(lambda: "restart failed" in log.read_text(), 30, "the failed restart said so")
        text = log.read_text()
        assert "RuntimeError: not here" in text
        assert "the last good build stays, and so does the server" in text
        assert greeting(base_url) == {"message": "Hello, Ada!"}, "the old server still serves"
        assert server.is_running()


@pytest.mark.timeout(120)
def test_a_dead_spare_is_replaced_at_the_next_save(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    hello = project / "shop" / "app" / "hello.py"
    with running_dev(project, port, subprocess.DEVNULL) as dev:
        wait_until(lambda: greeting(base_url) is not None, 30, "it serves")
        spare = children_of(dev)[1]
        spare.kill()
        psutil.wait_procs([spare], timeout=10)
        hello.write_text(hello.read_text().replace("Hello, ", "Hi, "))
        wait_until(
            lambda: greeting(base_url) == {"message": "Hi, Ada!"}, 30, "served with the change"
        )
        assert dev.poll() is None


@pytest.mark.timeout(120)
def test_dev_rebuilds_when_a_module_the_app_imports_beside_it_changes(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    shared = project / "shop" / "moods.py"
    shared.write_text(
        "from pydantic import BaseModel\n\n\nclass Mood(BaseModel):\n    calm: bool\n"
    )
    hello = project / "shop" / "app" / "hello.py"
    hello.write_text(
        hello.read_text()
        .replace("from pydantic import", "from shop.moods import Mood\nfrom pydantic import")
        .replace(
            '    message: str = Field(description="The greeting.")\n',
            '    message: str = Field(description="The greeting.")\n    mood: Mood | None = None\n',
        )
    )
    models = project / "shop" / "generated" / "models.py"
    with running_dev(project, free_port(), subprocess.DEVNULL):
        wait_until(lambda: "class Mood" in models.read_text(), 30, "the first build")
        shared.write_text(shared.read_text() + "    loud: bool = False\n")
        wait_until(lambda: "loud: bool" in models.read_text(), 20, "the models regenerated")
