"""Schemathesis hooks and checks for a milkio-gen server (`pip install schemathesis`).

Name this module as `hooks` in a `schemathesis.toml` (docs/openapi.md has one, with the
stream limits it needs) and disable Schemathesis' checks `negative_data_rejection`,
`positive_data_acceptance` and `unsupported_method`:

```console
$ schemathesis --config-file schemathesis.toml run http://127.0.0.1:9000/schema/openapi.json
```

Every answer of the protocol has status 200 and tells success from failure in its body, so
Schemathesis' checks that judge by status are replaced by two that read the body:
`fails_for_bad_params` (params the document refuses get a fail, never a success) and
`no_fail_for_good_params` (params it accepts never get `TYPE_SAFE_ERROR`, and nothing gets
`INTERNAL_SERVER_ERROR`, the protocol's 500). Stream APIs are called with
`Accept: text/event-stream`, as their clients call them (an OpenAPI document cannot ask for
that header itself).
"""

from __future__ import annotations

import json
from typing import Any, cast

import schemathesis
from schemathesis import Case as AnyCase
from schemathesis import CheckContext, HookContext, Response
from schemathesis.core.parameters import ParameterLocation

Case = AnyCase[Any]

__all__ = ["before_call", "fails_for_bad_params", "no_fail_for_good_params"]


@schemathesis.hook  # pyright: ignore[reportUnknownMemberType]
def before_call(context: HookContext, case: Case, **kwargs: Any) -> None:
    definition: Any = case.operation.definition.raw
    if (
        isinstance(definition, dict)
        and cast(dict[str, Any], definition).get("x-milkio-kind") == "stream"
    ):
        headers: Any = cast(Any, case).headers
        headers["Accept"] = "text/event-stream"


@schemathesis.check
def fails_for_bad_params(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Params the document refuses are answered with a fail envelope, never with a success."""
    meta = case.meta
    if meta is None or not meta.is_negative_at(ParameterLocation.BODY):
        return None
    envelope = first_envelope(response)
    if envelope.get("success") is not False:
        raise AssertionError(f"Params the document refuses were accepted: {envelope}")
    return True


@schemathesis.check
def no_fail_for_good_params(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Params the document accepts never fail with `TYPE_SAFE_ERROR`; no call ends with
    `INTERNAL_SERVER_ERROR` (the action raised: see the server's log)."""
    for envelope in envelopes(response):
        fail: Any = envelope.get("fail")
        code = cast(dict[str, Any], fail).get("code") if isinstance(fail, dict) else None
        if code == "INTERNAL_SERVER_ERROR":
            raise AssertionError(f"The action raised (execute id {envelope.get('executeId')})")
        if code == "TYPE_SAFE_ERROR" and _is_positive(case):
            raise AssertionError(f"Params the document accepts were refused: {fail}")
    return True


def envelopes(response: Response) -> list[dict[str, Any]]:
    """The result envelopes of an answer: its body, or the `@` events of its event stream."""
    if "text/event-stream" not in response.headers.get("content-type", [""])[0]:
        body = json.loads(response.content)
        return [body] if isinstance(body, dict) else []
    found: list[dict[str, Any]] = []
    # Only line feeds end SSE lines here: `splitlines` would also cut at U+2028 in a string.
    for line in response.content.decode().split("\n"):
        if line.startswith("data:@"):
            found.append(json.loads(line.removeprefix("data:@")))
    return found


def first_envelope(response: Response) -> dict[str, Any]:
    found = envelopes(response)
    if not found:
        raise AssertionError("The answer holds no result envelope")
    return found[0]


def _is_positive(case: Case) -> bool:
    """Whether every part of the request is as the document says (its method, content type and
    body): a request malformed on purpose may be refused, whatever its params."""
    meta = case.meta
    return meta is not None and not meta.generation.mode.is_negative
