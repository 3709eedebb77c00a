"""From a manifest to the files of a generated package, in memory."""

from __future__ import annotations

from pathlib import Path

from ..manifest import Manifest
from .environment import environment
from .formatting import format_python
from .python_client import plan_python

__all__ = ["generate_python"]

_PYTHON_FILES = ("__init__.py", "models.py", "client.py", "server.py")


def generate_python(
    manifest: Manifest, manifest_bytes: bytes, *, source: str, out: Path, project_root: Path
) -> dict[Path, bytes]:
    """Every file of the generated package `out`, keyed by path; same input, same bytes."""
    plan = plan_python(manifest, manifest_bytes, source)
    package = ".".join(out.parts) if not out.is_absolute() else out.name
    files: dict[Path, bytes] = {}
    for name in _PYTHON_FILES:
        template = environment().get_template(f"{name}.jinja")
        rendered = template.render(plan=plan, package=package)
        files[out / name] = format_python(rendered, out / name, project_root).encode()
    files[out / "py.typed"] = b""
    return files
