"""Which modules a save makes stale, on a real package imported in this process: the saved
module and every module that imports it, however it is written, and nothing else."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import pytest
from milkio_gen.dev.modules import ModuleGraph, drop_bytecode, forget_modules

FILES = {
    "__init__.py": "",
    "types.py": "class Shape:\n    pass\n",
    "app/__init__.py": "",
    "app/absolute.py": "from {pkg}.types import Shape\n",
    "app/relative.py": "from ..types import Shape\n",
    "app/package_only.py": "from .. import types\n",
    "app/through.py": "from . import relative\n",
    "app/in_function.py": "def shape():\n    from {pkg} import types\n    return types.Shape\n",
    "app/typing_only.py": dedent("""
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from .alone import Alone
        """),
    "app/alone.py": "import json\n\nclass Alone:\n    pass\n",
    "app/whole.py": "import {pkg}.app.alone\n",
    "generated/__init__.py": "",
    "generated/models.py": "from {pkg}.types import Shape\n",
}


@pytest.fixture
def package(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    name = f"modules_{uuid.uuid4().hex[:8]}"
    root = tmp_path / name
    for relative, source in FILES.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(source.format(pkg=name))
    sys.path.insert(0, str(tmp_path))
    try:
        for relative in FILES:
            module = relative.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
            importlib.import_module(f"{name}.{module}" if module != "__init__" else name)
        yield name, root
    finally:
        sys.path.remove(str(tmp_path))
        for loaded in [loaded for loaded in sys.modules if loaded.split(".")[0] == name]:
            del sys.modules[loaded]


def test_a_saved_module_makes_its_importers_stale_however_they_import_it(
    package: tuple[str, Path],
) -> None:
    name, root = package
    graph = ModuleGraph([root], excluded=[root / "generated"])
    assert f"{name}.generated.models" not in graph.loaded(), "the build's output is not watched"

    stale = graph.stale([root / "types.py"])
    assert stale == {
        f"{name}.types",
        f"{name}.app.absolute",
        f"{name}.app.relative",
        f"{name}.app.package_only",
        f"{name}.app.through",  # through `relative`
        f"{name}.app.in_function",
    }
    assert graph.stale([root / "app" / "alone.py"]) == {
        f"{name}.app.alone",
        f"{name}.app.typing_only",
        f"{name}.app.whole",
    }
    assert graph.stale([root / "app" / "through.py"]) == {f"{name}.app.through"}
    assert graph.stale([root / "not_imported.py"]) == set()


def test_forgotten_modules_are_imported_afresh_and_the_others_kept(
    package: tuple[str, Path],
) -> None:
    name, root = package
    graph = ModuleGraph([root])
    alone = sys.modules[f"{name}.app.alone"].Alone
    shape = sys.modules[f"{name}.types"].Shape

    (root / "types.py").write_text("class Shape:\n    sides = 3\n")
    graph.forget(graph.stale([root / "types.py"]))
    relative = importlib.import_module(f"{name}.app.relative")

    assert relative.Shape is not shape
    assert relative.Shape.sides == 3
    package_only = importlib.import_module(f"{name}.app.package_only")
    assert package_only.types.Shape.sides == 3, "`from .. import types` gets the new module"
    assert importlib.import_module(f"{name}.app.alone").Alone is alone


def test_a_same_size_save_in_the_same_second_is_read_again(
    package: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python trusts a `.pyc` whose source has the same size and modification second."""
    name, root = package
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    source = root / "app" / "counted.py"
    source.write_text("COUNT = 1\n")
    importlib.import_module(f"{name}.app.counted")
    assert Path(importlib.util.cache_from_source(str(source))).is_file()
    modified = source.stat().st_mtime_ns

    source.write_text("COUNT = 2\n")
    os.utime(source, ns=(modified, modified))
    forget_modules([f"{name}.app.counted"])
    assert importlib.import_module(f"{name}.app.counted").COUNT == 1, "the stale .pyc is read"

    forget_modules([f"{name}.app.counted"])
    drop_bytecode([source])
    assert importlib.import_module(f"{name}.app.counted").COUNT == 2
