"""What the example app (`examples/app`, generated into `generated/`) has to offer an editor."""

from __future__ import annotations

import typing

from tests.conftest import ROOT

STREAM_PATHS = {"chat/subscribe", "llm/complete", "your-stream-api"}
PLAIN_PATHS = {"account/login", "account/me", "chat/send", "hello/say", "orders/place"}


def fail_codes() -> set[str]:
    """Every code of the app's `Fail` union, as the generated models declare them."""
    from generated.models import Fail

    (union, _field) = typing.get_args(Fail)
    return {typing.get_args(fail.model_fields["code"].annotation)[0] for fail in union.__args__}


def defined_at(module: str) -> str:
    """`file:line` of the action of `examples/app/<module>.py`, as its source has it."""
    source = ROOT / "examples" / "app" / f"{module}.py"
    lines = source.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if text.startswith("@define_api"))
    return f"examples/app/{module}.py:{line}"
