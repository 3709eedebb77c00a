"""Editor completion and hovers over the generated TypeScript client, asked of the
`typescript` package's language service (`getCompletionsAtPosition`,
`getCompletionEntryDetails`, `getQuickInfoAtPosition`) as an editor holds it: a user's `.ts`
file that imports the example's `generated/client.ts`, a cursor in it, and what the service
offers there."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, TS
from tests.editor.cursor import cursor
from tests.editor.example import PLAIN_PATHS, STREAM_PATHS, defined_at, fail_codes
from tests.editor.typescript import LanguageService

pytestmark = pytest.mark.timeout(60)

HEAD = f"""import {{ createClient }} from "{ROOT / "generated" / "client"}";

const client = createClient({{ baseUrl: "http://127.0.0.1:9000" }});
"""
STREAM_LLM = 'const call = client.llm.complete.executeStream({ params: { prompt: "hi" } });\n'
STREAM_CHAT = 'const call = client.chat.subscribe.executeStream({ params: { room: "lobby" } });\n'
SAY = 'const result = await client.hello.say.execute({ params: { name: "Ada" } });\n'


@pytest.fixture(scope="module")
def service() -> Iterator[LanguageService]:
    if shutil.which("node") is None or not (TS / "node_modules" / "typescript").is_dir():
        pytest.fail("node and tests/ts/node_modules are needed: run scripts/setup")
    service = LanguageService()
    try:
        yield service
    finally:
        service.close()


@pytest.fixture(scope="module")
def user_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("editor_ts") / "user.ts"


def offered(service: LanguageService, user_file: Path, marked: str) -> set[str]:
    at = cursor(HEAD + marked)
    return set(service.completions(user_file, at.text, at.offset))


def hover(service: LanguageService, user_file: Path, marked: str) -> tuple[str, str]:
    at = cursor(HEAD + marked)
    return service.quickinfo(user_file, at.text, at.offset)


def test_the_user_file_type_checks(service: LanguageService, user_file: Path) -> None:
    """So what follows is asked of a file the service understands, not of one it gave up on."""
    text = HEAD + STREAM_LLM + "for await (const chunk of call.stream) console.log(chunk);\n"
    assert service.diagnostics(user_file, text) == []


def test_api_paths_of_streams_inside_execute_stream(
    service: LanguageService, user_file: Path
) -> None:
    assert offered(service, user_file, 'client.executeStream("‸') == STREAM_PATHS


def test_api_paths_of_plain_apis_inside_execute(service: LanguageService, user_file: Path) -> None:
    assert offered(service, user_file, 'await client.execute("‸') == PLAIN_PATHS


@pytest.mark.parametrize(
    "call",
    [
        'client.executeStream("llm/complete", { params: { ‸ } });',
        "client.llm.complete.executeStream({ params: { ‸ } });",
    ],
    ids=["by path", "by accessor"],
)
def test_params_keys_inside_params(service: LanguageService, user_file: Path, call: str) -> None:
    assert offered(service, user_file, call) == {"prompt", "max_tokens", "delay"}


@pytest.mark.parametrize(
    ("call", "narrowing", "fields"),
    [
        (STREAM_CHAT, "", {"room", "author", "text", "sent_at"}),
        (STREAM_LLM, "", {"type"}),
        (STREAM_LLM, 'if (chunk.type === "token") ', {"type", "index", "text"}),
        (
            STREAM_LLM,
            'if (chunk.type === "usage") ',
            {"type", "prompt_tokens", "completion_tokens"},
        ),
        (
            'const call = client.executeStream("chat/subscribe", { params: { room: "lobby" } });\n',
            "",
            {"room", "author", "text", "sent_at"},
        ),
    ],
    ids=["chat/subscribe", "llm/complete", "a token", "the usage", "by path"],
)
def test_chunk_fields_after_chunk_dot(
    service: LanguageService, user_file: Path, call: str, narrowing: str, fields: set[str]
) -> None:
    """A union of chunks offers what its members share, and each member's own fields once
    narrowed by its `type`."""
    body = call + f"for await (const chunk of call.stream) {{\n  {narrowing}chunk.‸\n}}\n"
    assert offered(service, user_file, body) == fields


def test_fail_fields_after_result_fail(service: LanguageService, user_file: Path) -> None:
    body = SAY + "if (!result.success) {\n  result.fail.‸\n}\n"
    assert offered(service, user_file, body) == {"code", "message", "data", "fromClient"}


def test_fail_codes_inside_a_comparison_with_the_code(
    service: LanguageService, user_file: Path
) -> None:
    body = SAY + 'if (!result.success && result.fail.code === "‸") {}\n'
    assert offered(service, user_file, body) == fail_codes()


def test_per_api_accessors_after_client(service: LanguageService, user_file: Path) -> None:
    assert offered(service, user_file, "client.‸") == {
        "account", "chat", "hello", "llm", "orders", "yourStreamApi", "execute", "executeStream",
    }  # fmt: skip
    assert offered(service, user_file, "client.llm.‸") == {"complete"}
    assert offered(service, user_file, "client.llm.complete.‸") == {"executeStream"}


@pytest.mark.parametrize("name", ["executeStr‸eam", "compl‸ete"], ids=["method", "accessor"])
def test_hover_on_a_per_api_method_shows_its_docstring_and_where_it_is_defined(
    service: LanguageService, user_file: Path, name: str
) -> None:
    body = f"client.llm.{name.replace('executeStr', 'complete.executeStr')}"
    display, documentation = hover(service, user_file, body + '({ params: { prompt: "hi" } });')
    assert "executeStream: (options: ExecuteOptions<LlmCompleteParams>)" in display
    assert "StreamCall<Token | Usage>" in display
    assert "Answers a prompt token by token" in documentation
    assert defined_at("llm/complete") in documentation


def test_hover_on_a_chunk_shows_its_model_and_its_fields_descriptions(
    service: LanguageService, user_file: Path
) -> None:
    loop = "for await (const chu‸nk of call.stream) {}\n"
    assert hover(service, user_file, STREAM_CHAT + loop)[0] == "const chunk: Message"
    assert hover(service, user_file, STREAM_LLM + loop)[0] == "const chunk: Token | Usage"

    narrowed = 'for await (const chunk of call.stream) {\n  if (chunk.type === "token") chunk.'
    display, documentation = hover(service, user_file, STREAM_LLM + narrowed + "in‸dex;\n}\n")
    assert display == "(property) Token.index: number"
    assert documentation == "Where the token stands in the answer, from 0."

    at = cursor(HEAD + STREAM_LLM + narrowed + "‸\n}\n")
    display, documentation = service.details(user_file, at.text, at.offset, "text")
    assert display == "(property) Token.text: string"
    assert documentation == "The token's text, with the space after it."
