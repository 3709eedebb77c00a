"""Static types of the generated client, as pyright (strict) sees a user's file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from milkio_gen.build import build
from milkio_gen.config import load_config

from tests.conftest import ROOT

CASES = Path(__file__).parent / "typing_cases"


def pyright_diagnostics(project: Path, case: Path) -> dict[int, list[str]]:
    """Strict pyright over one user file in `project`: its messages, by line."""
    (project / case.name).write_text(case.read_text())
    (project / "pyrightconfig.json").write_text(
        json.dumps(
            {"typeCheckingMode": "strict", "extraPaths": [str(ROOT)], "include": [case.name]}
        )
    )
    basedpyright = Path(sys.executable).with_name("basedpyright")
    completed = subprocess.run(
        [
            str(basedpyright),
            "--outputjson",
            "--pythonpath",
            sys.executable,
            "--project",
            str(project),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=project,
        check=False,
    )
    report = json.loads(completed.stdout)
    by_line: dict[int, list[str]] = {}
    for diagnostic in report["generalDiagnostics"]:
        line = diagnostic["range"]["start"]["line"] + 1
        by_line.setdefault(line, []).append(f"{diagnostic['severity']}: {diagnostic['message']}")
    return by_line


@pytest.fixture(scope="module")
def diagnostics(tmp_path_factory: pytest.TempPathFactory) -> dict[int, list[str]]:
    return pyright_diagnostics(tmp_path_factory.mktemp("typing"), CASES / "uses_client.py")


def line_of(marker: str, case: Path = CASES / "uses_client.py") -> int:
    for number, line in enumerate(case.read_text().splitlines(), 1):
        if marker in line:
            return number
    raise AssertionError(marker)


@pytest.mark.parametrize(
    ("marker", "revealed"),
    [
        ("reveal_type(chunk)  # expect: str", '"str"'),
        ("reveal_type(piece)  # expect", '"Token | Usage"'),
        ("reveal_type(piece.completion_tokens)", '"int"'),
        ("reveal_type(result.data.at)", '"datetime"'),
        ("reveal_type(chunk.sent_at)", '"datetime"'),
        ("reveal_type(chunk)  # expect: Message", '"Message"'),
    ],
)
def test_revealed_types(diagnostics: dict[int, list[str]], marker: str, revealed: str) -> None:
    messages = diagnostics[line_of(marker)]
    assert any(revealed in message for message in messages), messages


def test_fail_code_is_the_union_of_known_codes(diagnostics: dict[int, list[str]]) -> None:
    (message,) = diagnostics[line_of("reveal_type(result.fail.code)")]
    for code in ("NOT_FOUND", "TYPE_SAFE_ERROR", "NETWORK_ERROR", "OUT_OF_STOCK"):
        assert f"'{code}'" in message


@pytest.mark.parametrize(
    ("marker", "complaint"),
    [
        ("# error: wrong key", '"nmae" is an undefined item'),
        ("# error: wrong type", "cannot be assigned"),
        ("# error: unknown path", "No overloads"),
    ],
)
def test_wrong_use_is_a_type_error(
    diagnostics: dict[int, list[str]], marker: str, complaint: str
) -> None:
    errors = [m for m in diagnostics.get(line_of(marker), []) if m.startswith("error")]
    assert errors, f"pyright accepted the line marked {marker!r}"
    assert any(complaint in error for error in errors), errors


@pytest.fixture(scope="module")
def corpus_diagnostics(tmp_path_factory: pytest.TempPathFactory) -> dict[int, list[str]]:
    project = tmp_path_factory.mktemp("corpus_typing")
    build(
        load_config(
            ROOT, app="tests.corpus_app", schema=project / "m.json", out=project / "corpus_gen"
        )
    )
    return pyright_diagnostics(project, CASES / "corpus_types.py")


@pytest.mark.parametrize(
    ("marker", "revealed"),
    [
        ("reveal_type(nested.data.address.city)", '"str"'),
        ("reveal_type(nested.data.nickname)", '"str | None"'),
        ("reveal_type(page.data.items[0].price)", '"Decimal"'),
        ("reveal_type(tree.children[0].label)", '"str"'),
        ("reveal_type(pair)", '"tuple[int, str, bool]"'),
        ("reveal_type(pet)", '"Cat | Dog"'),
        ("reveal_type(moment)", '"datetime"'),
        ("reveal_type(movie.count)", '"int | None"'),
    ],
)
def test_deep_fields_of_the_corpus(
    corpus_diagnostics: dict[int, list[str]], marker: str, revealed: str
) -> None:
    messages = corpus_diagnostics[line_of(marker, CASES / "corpus_types.py")]
    assert any(revealed in message for message in messages), messages
    errors = [m for ms in corpus_diagnostics.values() for m in ms if m.startswith("error")]
    assert errors == []


def test_nothing_else_is_reported(diagnostics: dict[int, list[str]]) -> None:
    expected_lines = {line_of(m) for m in ("wrong key", "wrong type", "unknown path")}
    unexpected = {
        line: messages
        for line, messages in diagnostics.items()
        if line not in expected_lines and any(m.startswith("error") for m in messages)
    }
    assert unexpected == {}
