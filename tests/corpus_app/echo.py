"""`echo/<name>` and `replay/<name>` for every type of the corpus."""

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from milkio_gen import define_api
from pydantic import create_model

from .types import CORPUS

received: dict[str, Any] = {}
"""What `echo/<name>` was sent, by key: params as the server's action saw them."""

store: dict[str, list[Any]] = {}
"""What `replay/<name>` yields, by key: values a test put there."""


def _pascal(name: str) -> str:
    return "".join(part.title() for part in re.split(r"_", name))


def _apis(name: str, type_: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    params = create_model(f"{_pascal(name)}Params", key=(str, ...), value=(type_, ...))
    replay_params = create_model(f"{_pascal(name)}Replay", key=(str, ...))

    async def echo(params: params) -> type_:  # type: ignore[valid-type]
        received[params.key] = params.value
        return params.value

    async def replay(params: replay_params) -> AsyncIterator[type_]:  # type: ignore[valid-type]
        for value in store.pop(params.key, []):
            yield value

    for function, prefix in ((echo, "echo"), (replay, "replay")):
        function.__name__ = function.__qualname__ = f"{prefix}_{name}"
    return (
        define_api(path=f"echo/{name}")(echo),
        define_api(path=f"replay/{name}")(replay),
    )


for _name, _type in CORPUS.items():
    _echo, _replay = _apis(_name, _type)
    globals()[_echo.__name__] = _echo
    globals()[_replay.__name__] = _replay

del _echo, _replay, _name, _type

__all__ = ["received", "store"]
