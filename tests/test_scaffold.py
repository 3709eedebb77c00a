"""`milkio-gen new`: a project made in a fresh virtualenv, installed, built and tested as a
user would, and the places it refuses to write to."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FreshVenv


def new(
    *arguments: str, cwd: Path, milkio_gen: str | None = None
) -> subprocess.CompletedProcess[str]:
    command = [milkio_gen or str(Path(sys.executable).parent / "milkio-gen")]
    return subprocess.run(
        [*command, "new", *arguments], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.mark.timeout(900)
def test_a_new_project_installs_and_passes_its_own_tests(
    fresh_venv: FreshVenv, tmp_path: Path
) -> None:
    made = new("shop", cwd=tmp_path, milkio_gen=fresh_venv.bin("milkio-gen"))
    assert made.returncode == 0, made.stderr
    project = tmp_path / "shop"
    for path in ("pyproject.toml", "README.md", "shop/app/hello.py", "shop/app/countdown.py",
                 "schema/manifest.json", "shop/generated/client.py", "shop/generated/client.ts",
                 "shop/generated/server.py", "tests/test_app.py"):  # fmt: skip
        assert (project / path).is_file(), path
    installed = subprocess.run(
        [fresh_venv.bin("python"), "-m", "pip", "install", "--quiet", "-e", ".[dev]"],
        cwd=project, capture_output=True, text=True, timeout=500,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    checked = subprocess.run(
        [fresh_venv.bin("milkio-gen"), "build", "--check"],
        cwd=project, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    tested = subprocess.run(
        [fresh_venv.bin("pytest"), "-q"], cwd=project, capture_output=True, text=True, timeout=300
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "3 passed" in tested.stdout


def test_a_directory_with_files_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "notes.txt").write_text("mine")
    refused = new("shop", cwd=tmp_path)
    assert refused.returncode == 2
    assert "not an empty directory" in refused.stderr
    assert [p.name for p in (tmp_path / "shop").iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("name", ["1shop", "my shop", "class", "shop!"])
def test_a_name_that_cannot_be_a_package_is_refused(tmp_path: Path, name: str) -> None:
    refused = new("project", "--name", name, cwd=tmp_path)
    assert refused.returncode == 2
    assert "error:" in refused.stderr
    assert not (tmp_path / "project").exists()


def test_a_new_project_is_up_to_date_as_made(tmp_path: Path) -> None:
    """Its first build writes what every later one would: the output package exists before
    its imports are sorted (ruff tells first-party imports by the package a file is in)."""
    made = new("shop", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    checked = subprocess.run(
        [str(Path(sys.executable).parent / "milkio-gen"), "build", "--check"],
        cwd=tmp_path / "shop", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
