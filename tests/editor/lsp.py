"""A language server in a process of its own, asked what an editor asks: completions and
hovers at a cursor, with the files it watches changed under it.

pygls's `LanguageClient` speaks the protocol (framing, requests, typed messages from
lsprotocol); `EditorSession` gives it the synchronous face of an editor's session, its event
loop on a thread of its own, every answer bounded in time.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

__all__ = ["EditorSession"]

T = TypeVar("T")

SECONDS = 30.0
"""How long one answer may take; a cold start analyses the whole import graph first."""


class EditorSession:
    """An editor with a workspace folder open, talking to `command` over stdio.

    `settings` answers the server's `workspace/configuration` requests, by section (for
    pyright: `{"python": {"pythonPath": ...}}`).
    """

    def __init__(
        self, command: Sequence[str], root: Path, settings: dict[str, Any] | None = None
    ) -> None:
        self.root = root
        self.settings = settings or {}
        self.watched: list[str | dict[str, Any]] = []
        self._versions: dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._client = LanguageClient("milkio-gen-tests", "1")
        self._answer_server_requests()
        self._run(self._client.start_io(*command))  # pyright: ignore[reportUnknownMemberType]
        capabilities = lsp.ClientCapabilities(
            workspace=lsp.WorkspaceClientCapabilities(
                configuration=True,
                did_change_watched_files=lsp.DidChangeWatchedFilesClientCapabilities(
                    dynamic_registration=True
                ),
            ),
            text_document=lsp.TextDocumentClientCapabilities(
                hover=lsp.HoverClientCapabilities(content_format=[lsp.MarkupKind.Markdown]),
                completion=lsp.CompletionClientCapabilities(
                    completion_item=lsp.ClientCompletionItemOptions(
                        documentation_format=[lsp.MarkupKind.Markdown]
                    )
                ),
            ),
        )
        self._run(
            self._client.initialize_async(
                lsp.InitializeParams(
                    capabilities=capabilities,
                    root_uri=root.as_uri(),
                    workspace_folders=[lsp.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
                )
            )
        )
        self._client.initialized(lsp.InitializedParams())

    @classmethod
    def basedpyright(cls, root: Path) -> EditorSession:
        """basedpyright's language server, finding packages in this interpreter's environment."""
        server = Path(sys.executable).with_name("basedpyright-langserver")
        return cls([str(server), "--stdio"], root, {"python": {"pythonPath": sys.executable}})

    def _answer_server_requests(self) -> None:
        answers: dict[str, Callable[[Any], Any]] = {
            lsp.WORKSPACE_CONFIGURATION: lambda params: self._configuration(params),
            lsp.CLIENT_REGISTER_CAPABILITY: lambda params: self._register(params),
            lsp.WINDOW_WORK_DONE_PROGRESS_CREATE: lambda params: None,
            lsp.WINDOW_LOG_MESSAGE: lambda params: None,
            lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: lambda params: None,
        }
        # Functions, not bound methods: pygls marks each with attributes of its own.
        for method, answer in answers.items():
            self._client.feature(method)(answer)  # pyright: ignore[reportUnknownMemberType]

    def _configuration(self, params: lsp.ConfigurationParams) -> list[Any]:
        return [self.settings.get(item.section or "") for item in params.items]

    def _register(self, params: lsp.RegistrationParams) -> None:
        """Keep the globs the server asks the editor to watch for it."""
        for registration in params.registrations:
            if registration.method == lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES:
                options = cast(dict[str, list[dict[str, Any]]], registration.register_options)
                self.watched += [watcher["globPattern"] for watcher in options["watchers"]]

    def _run(self, work: Coroutine[Any, Any, T], seconds: float = SECONDS) -> T:
        bounded = asyncio.wait_for(work, seconds)
        return asyncio.run_coroutine_threadsafe(bounded, self._loop).result(seconds + 5)

    def show(self, path: Path, text: str) -> str:
        """Open `path` with `text` in the editor, or replace what it shows: its URI."""
        uri = path.as_uri()
        version = self._versions.get(uri, 0) + 1
        self._versions[uri] = version
        if version == 1:
            item = lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
            self._client.text_document_did_open(lsp.DidOpenTextDocumentParams(item))
        else:
            self._client.text_document_did_change(
                lsp.DidChangeTextDocumentParams(
                    lsp.VersionedTextDocumentIdentifier(version=version, uri=uri),
                    [lsp.TextDocumentContentChangeWholeDocument(text=text)],
                )
            )
        return uri

    def complete(self, path: Path, text: str, line: int, column: int) -> list[lsp.CompletionItem]:
        uri = self.show(path, text)
        where = lsp.CompletionParams(lsp.TextDocumentIdentifier(uri), lsp.Position(line, column))
        answer = self._run(self._client.text_document_completion_async(where))
        if answer is None:
            return []
        return list(answer.items if isinstance(answer, lsp.CompletionList) else answer)

    def resolve(self, item: lsp.CompletionItem) -> lsp.CompletionItem:
        """The item with its documentation, which servers fill in only when asked."""
        return self._run(self._client.completion_item_resolve_async(item))

    def hover(self, path: Path, text: str, line: int, column: int) -> str:
        """The hover's markdown, or "" where the server shows none."""
        uri = self.show(path, text)
        where = lsp.HoverParams(lsp.TextDocumentIdentifier(uri), lsp.Position(line, column))
        answer = self._run(self._client.text_document_hover_async(where))
        if answer is None:
            return ""
        contents = answer.contents
        assert isinstance(contents, lsp.MarkupContent), contents
        return contents.value

    def files_changed(self, *paths: Path) -> None:
        """Tell the server that files it watches changed on disk, as an editor does."""
        changes = [lsp.FileEvent(path.as_uri(), lsp.FileChangeType.Changed) for path in paths]
        self._client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(changes))

    def close(self) -> None:
        try:
            self._run(self._client.shutdown_async(None), 10)
            self._client.exit(None)
            self._run(self._client.stop(), 10)
        finally:
            server = self._client._server  # pyright: ignore[reportPrivateUsage]
            if server is not None and server.returncode is None:
                server.kill()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()
