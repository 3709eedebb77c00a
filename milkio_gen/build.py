"""`milkio-gen build`: extract the manifest, generate the package, write or check the files."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .config import BuildConfig
from .extract import extract
from .manifest import Manifest
from .progress import SILENT, Progress
from .render.generate import generate_python, generate_typescript

__all__ = ["BuildReport", "build", "render_files"]


@dataclass(slots=True)
class BuildReport:
    apis: int
    written: list[Path] = field(default_factory=list[Path])
    unchanged: list[Path] = field(default_factory=list[Path])
    stale: list[Path] = field(default_factory=list[Path])
    """With `check`: the files that differ from what a build would write."""

    checked: bool = False
    """Built with `check`: nothing was written."""

    def summary(self, seconds: float) -> str:
        """The line a build ends with."""
        apis = f"{self.apis} API{'' if self.apis == 1 else 's'}"
        files = len(self.written) + len(self.unchanged) + len(self.stale)
        if self.checked and self.stale:
            return f"out of date: {len(self.stale)} of {files} files ({seconds:.2f}s)"
        if self.checked:
            return f"up to date: {apis}, {files} files ({seconds:.2f}s)"
        return (
            f"built {apis}: {len(self.written)} files written, "
            f"{len(self.unchanged)} unchanged ({seconds:.2f}s)"
        )


def render_files(
    config: BuildConfig, progress: Progress = SILENT
) -> tuple[Manifest, dict[Path, bytes]]:
    """Every file a build writes, relative to the project root, in memory."""
    root = str(config.root.resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    manifest = extract(config.app, progress)
    manifest_bytes = manifest.to_json()
    # Every manifest written is checked against its own schema first.
    Manifest.from_json(manifest_bytes)
    files: dict[Path, bytes] = {
        config.schema: manifest_bytes,
        config.schema.with_name("manifest.schema.json"): Manifest.json_schema_bytes(),
    }
    source = _shown(config.schema, config.root)
    digest = hashlib.sha256(manifest_bytes).hexdigest()[:16]
    progress.phase("generate Python")
    files.update(
        generate_python(
            manifest,
            source=source,
            digest=digest,
            out=config.out,
            project_root=config.root,
            channels=config.channels,
            http=config.http,
            server=config.server,
        )
    )
    progress.phase("generate TypeScript")
    files.update(generate_typescript(manifest, source=source, digest=digest, out=config.out))
    return manifest, files


def _shown(path: Path, root: Path) -> str:
    """A path as generated headers name it: relative to the project, never machine-specific."""
    if not path.is_absolute():
        return path.as_posix()
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def build(config: BuildConfig, *, check: bool = False, progress: Progress = SILENT) -> BuildReport:
    """Write the files whose bytes changed; with `check`, write nothing and list them."""
    cwd = Path.cwd()
    package_init = config.root.resolve() / config.out / "__init__.py"
    os.chdir(config.root)
    # ruff sorts the imports of the app as first-party when it sees the generated files in a
    # package with the app's: so that a first build formats as every later one does, the
    # output package exists before its files are formatted (undone if the build fails).
    placeholder = not check and not package_init.exists()
    missing = [path for path in package_init.parents if not path.exists()]
    if placeholder:
        package_init.parent.mkdir(parents=True, exist_ok=True)
        package_init.touch()
    try:
        manifest, files = render_files(config, progress)
    except BaseException:
        if placeholder:
            package_init.unlink(missing_ok=True)
            if missing:
                shutil.rmtree(missing[-1], ignore_errors=True)  # made here, holding nothing
        raise
    finally:
        os.chdir(cwd)
    progress.phase("write files")
    report = BuildReport(apis=len(manifest.apis), checked=check)
    for relative, content in files.items():
        target = relative if relative.is_absolute() else config.root / relative
        current = target.read_bytes() if target.is_file() else None
        if current == content:
            report.unchanged.append(relative)
        elif check:
            report.stale.append(relative)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            report.written.append(relative)
    return report
