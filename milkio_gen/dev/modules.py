"""Which imported modules a save makes stale: the modules of the saved files and every
module that imports them, directly or through others, as read from their import statements.

`milkio-gen dev` imports only those again before a build. The others keep their classes:
making pydantic classes is most of an app's import, and an unchanged module makes the same
ones. Imports are read from the source (also those inside functions and `TYPE_CHECKING`
blocks), so a module counts as importing another even where it only might.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["ModuleGraph", "drop_bytecode", "forget_modules", "forget_package"]


class ModuleGraph:
    """The imported modules whose files are under `directories`, outside `excluded`."""

    def __init__(self, directories: Sequence[Path], excluded: Sequence[Path] = ()) -> None:
        self._directories = [directory.resolve() for directory in directories]
        self._excluded = [directory.resolve() for directory in excluded]
        self._parsed: dict[Path, tuple[int, list[ast.Import | ast.ImportFrom]]] = {}

    def covers(self, path: Path) -> bool:
        path = path.resolve()
        return any(path.is_relative_to(directory) for directory in self._directories) and not any(
            path.is_relative_to(directory) for directory in self._excluded
        )

    def loaded(self) -> dict[str, Path]:
        """The covered modules imported in this process, with their files."""
        found: dict[str, Path] = {}
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            # milkio_gen runs this loop: never dropped, even when the app is beside it (as
            # this project's own example app is).
            if file and name.partition(".")[0] != "milkio_gen" and self.covers(Path(file)):
                found[name] = Path(file).resolve()
        return found

    def stale(self, changed: Iterable[Path]) -> set[str]:
        """The loaded modules of the `changed` files, and those that import them."""
        modules = self.loaded()
        by_file = {file: name for name, file in modules.items()}
        importers: dict[str, set[str]] = {}
        for name, file in modules.items():
            for imported in self._imports(name, file, modules):
                importers.setdefault(imported, set()).add(name)
        files = {path.resolve() for path in changed}
        pending = [name for file, name in by_file.items() if file in files]
        stale: set[str] = set()
        while pending:
            name = pending.pop()
            if name not in stale:
                stale.add(name)
                pending.extend(importers.get(name, ()))
        return stale

    def forget(self, names: Iterable[str]) -> None:
        """Drop `names`, so that the next import reads their files as they are now."""
        forget_modules(names)

    def _imports(self, name: str, file: Path, modules: dict[str, Path]) -> set[str]:
        """The loaded modules that module `name` imports."""
        package = name if file.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for statement in self._statements(file):
            if isinstance(statement, ast.Import):
                for alias in statement.names:
                    found.update(_prefixes(alias.name))
                continue
            base = _absolute(statement.module, statement.level, package)
            if base is None:
                continue
            found.update(_prefixes(base))
            found.update(f"{base}.{alias.name}" for alias in statement.names)
        return found & modules.keys()

    def _statements(self, file: Path) -> list[ast.Import | ast.ImportFrom]:
        try:
            modified = file.stat().st_mtime_ns
            cached = self._parsed.get(file)
            if cached is not None and cached[0] == modified:
                return cached[1]
            tree = ast.parse(file.read_bytes(), filename=str(file))
        except (OSError, SyntaxError, ValueError):
            return []  # gone or broken: the file itself is among the changed ones
        statements = [
            node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
        ]
        self._parsed[file] = (modified, statements)
        return statements


def forget_modules(names: Iterable[str]) -> None:
    """Drop the modules `names` from this process, so that the next import of each runs its
    file as it is now. A module is also dropped from its package's attributes, or
    `from package import module` would give the old one back."""
    for name in names:
        module = sys.modules.pop(name, None)
        parent, _, child = name.rpartition(".")
        if module is not None and getattr(sys.modules.get(parent), child, None) is module:
            delattr(sys.modules[parent], child)
    importlib.invalidate_caches()


def drop_bytecode(files: Iterable[Path]) -> None:
    """Delete the `.pyc` of each changed source: Python trusts one whose source has the same
    size and modification second, as a quick second save of a small edit may have."""
    for file in files:
        if file.suffix == ".py":
            with contextlib.suppress(OSError, NotImplementedError, ValueError):
                Path(importlib.util.cache_from_source(str(file))).unlink(missing_ok=True)


def forget_package(package: str) -> None:
    """Drop `package` and every module in it."""
    forget_modules(
        [name for name in sys.modules if name == package or name.startswith(f"{package}.")]
    )


def _prefixes(name: str) -> list[str]:
    """`a.b.c` imports `a`, `a.b` and `a.b.c`."""
    parts = name.split(".")
    return [".".join(parts[: index + 1]) for index in range(len(parts))]


def _absolute(module: str | None, level: int, package: str) -> str | None:
    """The absolute name of `from <level dots><module> import ...` written in `package`."""
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts) or (level - 1 == len(parts) and not module):
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, module] if module else base) or None
