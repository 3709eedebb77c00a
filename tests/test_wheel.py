"""A wheel built from the repository carries the templates: installed alone, it can build."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, FreshVenv


@pytest.mark.timeout(900)
def test_wheel_installed_in_a_fresh_venv_builds_the_example(
    wheel: Path, fresh_venv: FreshVenv, tmp_path: Path
) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "milkio_gen/templates/client.py.jinja" in names
    assert "milkio_gen/templates/macros/python.jinja" in names
    assert "milkio_gen/scaffold/files/pyproject.toml.jinja" in names

    project = tmp_path / "project"
    shutil.copytree(ROOT / "examples", project / "examples")
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    built = subprocess.run(
        [fresh_venv.bin("milkio-gen"), "build"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    for name in ("client.py", "models.py", "server.py", "__init__.py", "client.ts"):
        made = (project / "generated" / name).read_bytes()
        assert made == (ROOT / "generated" / name).read_bytes(), f"{name} differs"
