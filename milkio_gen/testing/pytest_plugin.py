"""pytest fixtures that serve the app under test on a free port of 127.0.0.1, once a session,
and hand each test its typed clients. Enable them in the project's top `conftest.py`:

```python
pytest_plugins = ["milkio_gen.testing.pytest_plugin"]
```

- `milkio_app` (session): the ASGI app to serve; by default `app` of the generated `server.py`
  (`[tool.milkio-gen]` `out`, in the pyproject.toml of pytest's rootdir). Override it to serve
  an app of your own.
- `milkio_server` (session): a `ServedApp` serving `milkio_app`, with `base_url` and `port`.
- `milkio_base_url` (session): where the clients go, `milkio_server.base_url`; override it
  when the app mounts the APIs under a prefix.
- `milkio_client`, `milkio_async_client` (each test): the generated `Client` and
  `AsyncClient` on `milkio_base_url`, closed after the test. The async one needs
  pytest-asyncio.

Annotate a test's parameter with the generated class for completion and type checks:
`async def test_x(milkio_async_client: AsyncClient) -> None`.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from .served_app import ServedApp, ServeError, serve

if TYPE_CHECKING:
    from ..runtime.client import AsyncClientCore, ClientCore

try:
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # the async client says what it needs when asked for
    _async_fixture = None

__all__ = ["milkio_app", "milkio_base_url", "milkio_client", "milkio_server"]


@pytest.fixture(scope="session")
def milkio_app(request: pytest.FixtureRequest) -> Any:
    """The ASGI app `milkio_server` serves: `app` of the generated `server.py`. Override it
    (in conftest.py, scope "session") to serve an app of your own."""
    return _generated(request.config, "server").app


@pytest.fixture(scope="session")
def milkio_server(milkio_app: Any) -> Iterator[ServedApp]:
    """`milkio_app` served by uvicorn in a thread on a free port of 127.0.0.1, for the
    session; at its end, open streams are ended and the server stops."""
    try:
        served = serve(milkio_app)
    except ServeError as error:
        # Raised outside the `except`, so that the message is not told twice, chained.
        failure = f"milkio_server: {error}"
    else:
        with served:
            yield served
        return
    pytest.fail(failure, pytrace=False)


@pytest.fixture(scope="session")
def milkio_base_url(milkio_server: ServedApp) -> str:
    """Where `milkio_client` and `milkio_async_client` send their calls."""
    return milkio_server.base_url


@pytest.fixture
def milkio_client(
    request: pytest.FixtureRequest, milkio_base_url: str
) -> Iterator[ClientCore[Any]]:
    """The generated `Client` on `milkio_base_url`, closed after the test."""
    client_type = _generated(request.config, "client").Client
    with client_type(base_url=milkio_base_url) as client:
        yield client


if _async_fixture is not None:

    @_async_fixture(name="milkio_async_client")
    async def _async_client(
        request: pytest.FixtureRequest, milkio_base_url: str
    ) -> AsyncIterator[AsyncClientCore[Any]]:
        """The generated `AsyncClient` on `milkio_base_url`, closed after the test."""
        client_type = _generated(request.config, "client").AsyncClient
        async with client_type(base_url=milkio_base_url) as client:
            yield client

else:

    @pytest.fixture(name="milkio_async_client")
    def _async_client_unavailable() -> NoReturn:
        """The generated `AsyncClient`: needs pytest-asyncio."""
        pytest.fail("milkio_async_client needs pytest-asyncio: pip install pytest-asyncio")


def _generated(config: pytest.Config, module: str) -> ModuleType:
    """`<out>.<module>` of the generated package, per `[tool.milkio-gen]`."""
    root = Path(config.rootpath)
    package = _package(root)
    name = f"{package}.{module}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        missing = error.name
        if missing is None or not f"{name}.".startswith(f"{missing}."):
            raise  # a module the app imports
    # Failed outside the `except`, so that pytest does not show the import error before.
    if missing in (name, package):
        pytest.fail(f"no module {name}: run `milkio-gen build`", pytrace=False)
    pytest.fail(
        f'cannot import {name}: no module {missing} (add `pythonpath = ["."]` to '
        "[tool.pytest.ini_options], or install the project)",
        pytrace=False,
    )


def _package(root: Path) -> str:
    """The generated package's name, from `out` of `[tool.milkio-gen]`."""
    from ..config import ConfigError, load_config

    try:
        out = load_config(root).out
    except ConfigError as error:
        problem = str(error)
    else:
        if out.is_absolute():
            if not out.is_relative_to(root):
                pytest.fail(f"[tool.milkio-gen] out = {out}: outside {root}", pytrace=False)
            out = out.relative_to(root)
        return ".".join(out.parts)
    pytest.fail(
        f"{problem}\n(the milkio_gen fixtures read [tool.milkio-gen] in "
        f"{root / 'pyproject.toml'}, pytest's rootdir; or override `milkio_app`)",
        pytrace=False,
    )
