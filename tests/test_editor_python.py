"""Editor completion and hovers over the generated Python clients, asked of real engines: a
user's file that uses the example app's `AsyncClient` and `Client`, a cursor in it, and what
the engine offers there.

pyright's language server (basedpyright's, over LSP) offers everything an editor needs:
API paths inside `client.execute_stream("` and `client.execute("` (each only its kind's),
params keys inside `params={"`, chunk fields after `chunk.`, `result.fail.` fields, fail
codes inside `result.fail.code == "`, the per-API accessors after `client.`; its hover on a
per-API method shows the action's docstring and file:line, on a chunk its model, and on a
chunk's field (and in a completion item's documentation) the field's description.

jedi, the second engine, does less, and these are limits of jedi, not of the generated code
(pyright above shows the same code carries it all):
- no completion inside a string argument from `Literal` types: no API paths, no fail codes
  (it offers file names there instead);
- no TypedDict keys inside a dict literal given as an argument (`params={"`); it completes
  them when subscripting a variable annotated with the params type (`params["`);
- it does not pick an `@overload` by a `Literal` argument, so after
  `client.execute_stream("chat/subscribe", ...)` it offers the members of every path's chunk;
  the per-API accessors (`client.chat.subscribe.execute_stream(...)`) are exact;
- in a generic union alias with two type variables (`ExecuteResult[Greeting, Fail]` is
  `Success[DataT] | Failure[FailT]`) it binds both to the first argument, so `result.fail.`
  after a plain call offers the result's fields; a stream's `call.get_result()` (one type
  variable) gives the fail's fields.
Its `help()` on a per-API method gives the docstring with file:line, `infer()` on a chunk its
model, and `help()` on a chunk's field the field's description.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import jedi
import pytest
from lsprotocol.types import MarkupContent

from tests.conftest import ROOT
from tests.editor.cursor import cursor
from tests.editor.example import PLAIN_PATHS, STREAM_PATHS, defined_at, fail_codes
from tests.editor.lsp import EditorSession

pytestmark = pytest.mark.timeout(60)


@dataclass(frozen=True)
class Flavour:
    """A user's file around the async or the sync client: `{await}` and `{async}` in a body
    become what that client needs."""

    client: str
    head: str
    asynchronous: bool

    def file(self, body: str) -> str:
        for word in ("await", "async"):
            body = body.replace(f"{{{word}}}", f"{word} " if self.asynchronous else "")
        return self.head + body


ASYNC = Flavour(
    "AsyncClient",
    "from generated.client import AsyncClient\n\n\nasync def main(client: AsyncClient) -> None:\n",
    asynchronous=True,
)
SYNC = Flavour(
    "Client",
    "from generated.client import Client\n\n\ndef main(client: Client) -> None:\n",
    asynchronous=False,
)


@pytest.fixture(params=[ASYNC, SYNC], ids=lambda flavour: flavour.client)
def flavour(request: pytest.FixtureRequest) -> Flavour:
    return request.param


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's project that finds the example's `generated` package, as an installed one."""
    root = tmp_path_factory.mktemp("editor")
    (root / "pyrightconfig.json").write_text(json.dumps({"extraPaths": [str(ROOT)]}))
    return root


@pytest.fixture(scope="module")
def pyright(workspace: Path) -> Iterator[EditorSession]:
    session = EditorSession.basedpyright(workspace)
    try:
        yield session
    finally:
        session.close()


def offered(session: EditorSession, workspace: Path, marked: str) -> list[str]:
    at = cursor(marked)
    items = session.complete(workspace / "user.py", at.text, at.line, at.column)
    return [item.label for item in items]


def strings(labels: list[str]) -> set[str]:
    """The string literals among completion labels, unquoted."""
    return {label[1:-1] for label in labels if label.startswith('"') and label.endswith('"')}


def public(labels: list[str]) -> set[str]:
    return {label for label in labels if not label.startswith("_")}


def hover(session: EditorSession, workspace: Path, marked: str) -> str:
    at = cursor(marked)
    return session.hover(workspace / "user.py", at.text, at.line, at.column)


STREAM_LLM = '    call = client.llm.complete.execute_stream(params={"prompt": "hi"})\n'
STREAM_CHAT = '    call = client.chat.subscribe.execute_stream(params={"room": "lobby"})\n'
SAY = '    result = {await}client.hello.say.execute(params={"name": "Ada"})\n'


def test_api_paths_of_streams_inside_execute_stream(
    pyright: EditorSession, workspace: Path, flavour: Flavour
) -> None:
    labels = offered(pyright, workspace, flavour.file('    client.execute_stream("‸'))
    assert strings(labels) == STREAM_PATHS


def test_api_paths_of_plain_apis_inside_execute(
    pyright: EditorSession, workspace: Path, flavour: Flavour
) -> None:
    labels = offered(pyright, workspace, flavour.file('    {await}client.execute("‸'))
    assert strings(labels) == PLAIN_PATHS


@pytest.mark.parametrize(
    "call",
    [
        'client.execute_stream("llm/complete", params={"‸',
        'client.llm.complete.execute_stream(params={"‸',
    ],
    ids=["by path", "by accessor"],
)
def test_params_keys_inside_params(
    pyright: EditorSession, workspace: Path, flavour: Flavour, call: str
) -> None:
    labels = offered(pyright, workspace, flavour.file(f"    {call}"))
    assert strings(labels) == {"prompt", "max_tokens", "delay"}


@pytest.mark.parametrize(
    ("call", "fields"),
    [
        (STREAM_CHAT, {"room", "author", "text", "sent_at"}),
        (STREAM_LLM, {"type", "index", "text", "prompt_tokens", "completion_tokens"}),
        (
            '    call = client.execute_stream("chat/subscribe", params={"room": "lobby"})\n',
            {"room", "author", "text", "sent_at"},
        ),
    ],
    ids=["chat/subscribe", "llm/complete", "by path"],
)
def test_chunk_fields_after_chunk_dot(
    pyright: EditorSession, workspace: Path, flavour: Flavour, call: str, fields: set[str]
) -> None:
    body = call + "    {async}for chunk in call.stream:\n        chunk.‸"
    labels = public(offered(pyright, workspace, flavour.file(body)))
    assert fields <= labels
    assert "model_dump" in labels, "and the pydantic model's own methods"
    other_fields = {"room", "author", "sent_at", "index", "prompt_tokens"} - fields
    assert not labels & other_fields, "only this API's chunk"


def test_fail_fields_after_result_fail(
    pyright: EditorSession, workspace: Path, flavour: Flavour
) -> None:
    body = SAY + "    if not result.success:\n        result.fail.‸"
    labels = public(offered(pyright, workspace, flavour.file(body)))
    assert {"code", "message", "data", "from_client"} <= labels


def test_fail_codes_inside_a_comparison_with_the_code(
    pyright: EditorSession, workspace: Path, flavour: Flavour
) -> None:
    body = SAY + '    if not result.success and result.fail.code == "‸'
    labels = offered(pyright, workspace, flavour.file(body))
    assert strings(labels) == fail_codes()
    assert {"OUT_OF_STOCK", "NOT_FOUND", "NETWORK_ERROR"} <= strings(labels)


def test_per_api_accessors_after_client(
    pyright: EditorSession, workspace: Path, flavour: Flavour
) -> None:
    labels = public(offered(pyright, workspace, flavour.file("    client.‸")))
    assert {"chat", "hello", "llm", "orders", "your_stream_api"} <= labels
    assert {"execute", "execute_stream"} <= labels
    assert public(offered(pyright, workspace, flavour.file("    client.llm.‸"))) == {"complete"}
    labels = public(offered(pyright, workspace, flavour.file("    client.llm.complete.‸")))
    assert "execute_stream" in labels
    assert "execute" not in labels, "a stream API is not called as a plain one"


def test_hover_on_a_per_api_method_shows_its_docstring_and_where_it_is_defined(
    pyright: EditorSession, workspace: Path, flavour: Flavour
) -> None:
    body = '    client.llm.complete.execute_str‸eam(params={"prompt": "hi"})\n'
    shown = hover(pyright, workspace, flavour.file(body))
    assert "(method) def execute_stream(" in shown
    assert "params: LlmCompleteParams" in shown
    assert "Answers a prompt token by token" in shown
    assert defined_at("llm/complete") in shown

    shown = hover(pyright, workspace, flavour.file(SAY.replace("execute(", "exec‸ute(")))
    assert "Greets by name." in shown
    assert defined_at("hello/say") in shown


def test_hover_on_a_chunk_shows_its_model_and_its_fields_descriptions(
    pyright: EditorSession, workspace: Path, flavour: Flavour
) -> None:
    loop = "    {async}for chu‸nk in call.stream:\n        pass\n"
    assert "chunk: Message" in hover(pyright, workspace, flavour.file(STREAM_CHAT + loop))
    assert "chunk: LlmCompleteChunk" in hover(pyright, workspace, flavour.file(STREAM_LLM + loop))

    narrowed = '    {async}for chunk in call.stream:\n        if chunk.type == "token":\n'
    shown = hover(pyright, workspace, flavour.file(STREAM_LLM + narrowed + "            chu‸nk"))
    assert "chunk: Token" in shown

    field = hover(
        pyright, workspace, flavour.file(STREAM_LLM + narrowed + "            chunk.in‸dex")
    )
    assert "index: int" in field
    assert "Where the token stands in the answer, from 0." in field

    at = cursor(flavour.file(STREAM_LLM + narrowed + "            chunk.‸"))
    items = pyright.complete(workspace / "user.py", at.text, at.line, at.column)
    (text,) = [item for item in items if item.label == "text"]
    documentation = pyright.resolve(text).documentation
    assert isinstance(documentation, MarkupContent)
    assert "The token's text, with the space after it." in documentation.value


# jedi


@pytest.fixture(scope="module")
def project(workspace: Path) -> jedi.Project:
    return jedi.Project(workspace, added_sys_path=[str(ROOT)])


def jedi_script(project: jedi.Project, marked: str) -> tuple[jedi.Script, int, int]:
    """A jedi script of the user's file, and the cursor as jedi counts (lines from 1)."""
    at = cursor(marked)
    return (
        jedi.Script(at.text, path=project.path / "user.py", project=project),
        at.line + 1,
        at.column,
    )


def jedi_offered(project: jedi.Project, marked: str) -> set[str]:
    script, line, column = jedi_script(project, marked)
    return {completion.name for completion in script.complete(line, column)}


def test_jedi_per_api_accessors_after_client(project: jedi.Project, flavour: Flavour) -> None:
    labels = public(list(jedi_offered(project, flavour.file("    client.‸"))))
    assert {"chat", "hello", "llm", "orders", "your_stream_api"} <= labels
    assert {"execute", "execute_stream"} <= labels
    assert public(list(jedi_offered(project, flavour.file("    client.llm.‸")))) == {"complete"}


@pytest.mark.parametrize(
    ("call", "fields"),
    [
        (STREAM_CHAT, {"room", "author", "text", "sent_at"}),
        (STREAM_LLM, {"type", "index", "text", "prompt_tokens", "completion_tokens"}),
    ],
    ids=["chat/subscribe", "llm/complete"],
)
def test_jedi_chunk_fields_after_chunk_dot(
    project: jedi.Project, flavour: Flavour, call: str, fields: set[str]
) -> None:
    body = call + "    {async}for chunk in call.stream:\n        chunk.‸"
    labels = jedi_offered(project, flavour.file(body))
    assert fields <= labels
    other_fields = {"room", "author", "sent_at", "index", "prompt_tokens"} - fields
    assert not labels & other_fields


def test_jedi_fail_fields_after_a_stream_result_fail(
    project: jedi.Project, flavour: Flavour
) -> None:
    body = STREAM_LLM + "    result = call.get_result()\n    result.fail.‸"
    assert {"code", "message", "data", "from_client"} <= jedi_offered(project, flavour.file(body))


def test_jedi_params_keys_of_a_params_variable(project: jedi.Project, flavour: Flavour) -> None:
    imports = "from generated.models import LlmCompleteParams\n"
    flavour = replace(flavour, head=imports + flavour.head)
    body = '    params: LlmCompleteParams = {"prompt": "hi"}\n    params["‸'
    labels = jedi_offered(project, flavour.file(body))
    assert strings(list(labels)) == {"prompt", "max_tokens", "delay"}


def test_jedi_help_on_a_per_api_method_shows_its_docstring_and_where_it_is_defined(
    project: jedi.Project, flavour: Flavour
) -> None:
    body = '    client.llm.complete.execute_str‸eam(params={"prompt": "hi"})\n'
    script, line, column = jedi_script(project, flavour.file(body))
    (name,) = script.help(line, column)
    assert name.module_path == ROOT / "generated" / "client.py"
    docstring = name.docstring()
    assert docstring.startswith("execute_stream(params: LlmCompleteParams, *,")
    assert "Answers a prompt token by token" in docstring
    assert defined_at("llm/complete") in docstring


def test_jedi_infers_a_chunks_model_and_shows_its_fields_descriptions(
    project: jedi.Project, flavour: Flavour
) -> None:
    loop = "    {async}for chunk in call.stream:\n        chu‸nk\n"
    script, line, column = jedi_script(project, flavour.file(STREAM_LLM + loop))
    models = {(name.full_name, name.docstring()) for name in script.infer(line, column)}
    assert models == {
        ("generated.models.Token", "One piece of the answer."),
        ("generated.models.Usage", "The last chunk: what the answer cost."),
    }

    field = "    {async}for chunk in call.stream:\n        chunk.in‸dex\n"
    script, line, column = jedi_script(project, flavour.file(STREAM_LLM + field))
    (name,) = script.help(line, column)
    assert name.full_name == "generated.models.Token.index"
    assert name.docstring() == "Where the token stands in the answer, from 0."


def test_jedi_offers_no_api_paths_params_keys_or_fail_codes_inside_strings(
    project: jedi.Project, flavour: Flavour
) -> None:
    """A limit of jedi (see the module's docstring): should a jedi learn it, this test says
    so, and the docstring and the tests above grow."""
    for body in (
        '    client.execute_stream("‸',
        '    client.execute_stream("llm/complete", params={"‸',
        SAY + '    if not result.success and result.fail.code == "‸',
    ):
        labels = strings(list(jedi_offered(project, flavour.file(body))))
        assert not labels & (STREAM_PATHS | {"prompt"} | fail_codes()), body
