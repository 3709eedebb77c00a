"""An editor open on a new project while `milkio-gen dev` runs: a chunk model changed in the
app is regenerated, and the next completion after `chunk.` offers its new field, in pyright's
language server (told of the changed file as an editor tells it) and in the TypeScript
language service (which reads a file again when its mtime changes)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.dev_project import greeting, new_project, running_dev, wait_until
from tests.editor.cursor import cursor
from tests.editor.lsp import EditorSession
from tests.editor.typescript import LanguageService
from tests.processes import free_port

pytestmark = pytest.mark.timeout(90)


@dataclass(frozen=True)
class DevProject:
    root: Path

    @property
    def countdown(self) -> Path:
        return self.root / "shop" / "app" / "countdown.py"

    @property
    def generated(self) -> Path:
        return self.root / "shop" / "generated"

    def add_tick_field(self, line: str) -> None:
        """Give the chunk of `countdown` one more field, as a user saves it."""
        source = self.countdown.read_text()
        anchor = '    left: int = Field(description="Ticks left after this one.")\n'
        assert anchor in source
        self.countdown.write_text(source.replace(anchor, anchor + f"    {line}\n"))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProject]:
    """`milkio-gen new shop`, with `milkio-gen dev` serving it until the module is done."""
    tmp_path = tmp_path_factory.mktemp("editor_dev")
    root = new_project(tmp_path)
    port = free_port()
    with (tmp_path / "dev.log").open("wb") as log, running_dev(root, port, log):
        base_url = f"http://127.0.0.1:{port}"
        wait_until(lambda: greeting(base_url) is not None, 30, "the server answers")
        yield DevProject(root)


def test_pyright_offers_a_chunk_field_added_while_dev_runs(project: DevProject) -> None:
    session = EditorSession.basedpyright(project.root)
    try:
        user = project.root / "use_countdown.py"
        at = cursor(
            "from shop.generated.client import AsyncClient\n\n\n"
            "async def main(client: AsyncClient) -> None:\n"
            '    call = client.countdown.execute_stream(params={"start": 3})\n'
            "    async for tick in call.stream:\n"
            "        tick.‸\n"
        )
        labels = {item.label for item in session.complete(user, at.text, at.line, at.column)}
        assert "left" in labels
        assert "last" not in labels
        assert "**" in session.watched, "the server asks the editor to watch every file"

        project.add_tick_field(
            'last: bool = Field(default=False, description="Whether no tick comes after it.")'
        )
        models = project.generated / "models.py"
        wait_until(lambda: "last: bool" in models.read_text(), 30, "dev regenerated the models")
        # pyright watches no file itself but asks the editor to (`**`); without this it goes
        # on offering the fields it read first.
        session.files_changed(models)

        items = session.complete(user, at.text, at.line, at.column)
        (last,) = [item for item in items if item.label == "last"]
        documentation = session.resolve(last).documentation
        assert documentation is not None
        assert "Whether no tick comes after it." in str(documentation)
    finally:
        session.close()


def test_typescript_offers_a_chunk_field_added_while_dev_runs(project: DevProject) -> None:
    service = LanguageService()
    try:
        user = project.root / "use_countdown.ts"
        at = cursor(
            'import { createClient } from "./shop/generated/client";\n\n'
            'const client = createClient({ baseUrl: "http://127.0.0.1:9000" });\n'
            "const call = client.countdown.executeStream({ params: { start: 3 } });\n"
            "for await (const tick of call.stream) {\n"
            "  tick.‸\n"
            "}\n"
        )
        assert "label" not in service.completions(user, at.text, at.offset)
        assert "left" in service.completions(user, at.text, at.offset)

        project.add_tick_field('label: str = Field(default="", description="What to show.")')
        client = project.generated / "client.ts"
        wait_until(lambda: "label: string" in client.read_text(), 30, "dev regenerated client.ts")

        assert "label" in service.completions(user, at.text, at.offset)
        assert service.details(user, at.text, at.offset, "label")[1] == "What to show."
    finally:
        service.close()
