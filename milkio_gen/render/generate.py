"""From a manifest to the files of a generated package, in memory."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..extract.errors import BuildError, BuildFailed
from ..manifest import Manifest
from .environment import environment
from .formatting import FormattingFailed, format_python
from .python_client import plan_python
from .typescript_client import plan_typescript

__all__ = ["generate_python", "generate_typescript"]

_PYTHON_FILES = ("__init__.py", "models.py", "client.py", "server.py")


_BUG = "this is a bug of milkio-gen: please report it with the manifest"


def _check_syntax(source: str, name: str) -> None:
    """A template that writes invalid Python is our bug; say where, not ruff's traceback."""
    try:
        ast.parse(source)
    except SyntaxError as error:
        line = source.splitlines()[(error.lineno or 1) - 1].strip()
        problem = f"generated {name} is invalid at line {error.lineno}: {error.msg}: {line}"
        raise BuildFailed([BuildError(problem, _BUG)]) from None


def generate_python(
    manifest: Manifest,
    *,
    source: str,
    digest: str,
    out: Path,
    project_root: Path,
    channels: Mapping[str, Any] | None = None,
    http: Mapping[str, Any] | None = None,
    server: Mapping[str, Any] | None = None,
) -> dict[Path, bytes]:
    """Every file of the generated package `out`, keyed by path; same input, same bytes.
    `channels`, `http` and `server`: the options the server passes to `ChannelSettings`,
    `HttpSettings` and `ServerSettings`."""
    plan = plan_python(manifest, source, digest)
    package = ".".join(out.parts) if not out.is_absolute() else out.name
    channel_arguments, http_arguments = _arguments(channels), _arguments(http)
    rendered = {
        name: environment()
        .get_template(f"{name}.jinja")
        .render(
            plan=plan,
            package=package,
            channel_arguments=channel_arguments,
            http_arguments=http_arguments,
            server_arguments=_arguments(server),
        )
        for name in _PYTHON_FILES
    }

    def formatted(name: str) -> bytes:
        try:
            return format_python(rendered[name], out / name, project_root).encode()
        except FormattingFailed as error:
            _check_syntax(rendered[name], name)  # a template bug: say where, not ruff's words
            raise BuildFailed(
                [BuildError(f"ruff could not format {name}: {error}", _BUG)]
            ) from None

    # ruff runs as a process per file and step: the files are formatted side by side.
    with ThreadPoolExecutor(max_workers=len(_PYTHON_FILES)) as pool:
        contents = list(pool.map(formatted, _PYTHON_FILES))
    files = {out / name: content for name, content in zip(_PYTHON_FILES, contents, strict=True)}
    files[out / "py.typed"] = b""
    return files


def _arguments(options: Mapping[str, Any] | None) -> str:
    """Keyword arguments in Python, in a stable order."""
    return ", ".join(f"{key}={value!r}" for key, value in sorted((options or {}).items()))


def generate_typescript(
    manifest: Manifest, *, source: str, digest: str, out: Path
) -> dict[Path, bytes]:
    """`client.ts`: the TypeScript client, one file with no dependency."""
    plan = plan_typescript(manifest, source, digest)
    rendered = environment().get_template("client.ts.jinja").render(plan=plan)
    return {out / "client.ts": rendered.encode()}
