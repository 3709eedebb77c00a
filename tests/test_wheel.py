"""A wheel built from the repository carries the templates: installed alone, it can build."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.timeout(600)
def test_wheel_installed_in_a_fresh_venv_builds_the_example(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path / "dist"),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("milkio_gen-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "milkio_gen/templates/client.py.jinja" in names
    assert "milkio_gen/templates/macros/python.jinja" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True, timeout=500)

    project = tmp_path / "project"
    shutil.copytree(ROOT / "examples", project / "examples")
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    built = subprocess.run(
        [str(venv / "bin" / "milkio-gen"), "build"],
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
