"""`Hooks`: code that runs around every execute of the app, as Milkio's middleware does."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, cast, get_args, get_origin

from typing_extensions import TypeVar

from .context import Context
from .meta import ApiMeta

__all__ = ["HookKind", "Hooks", "Outcome", "RegisteredHook", "meta_type_of"]

ContextT = TypeVar("ContextT", bound=Context[Any], default=Context[ApiMeta])
HookT = TypeVar("HookT", bound=Callable[..., Any])

HookKind = Literal["before_execute", "on_chunk", "after_execute"]

Status = Literal["success", "fail", "stopped"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an execute ended, as `after_execute` hooks and the execute log line see it."""

    status: Status
    """`success`; `fail` (the call ended with a fail: `fail_code` says which); or `stopped`:
    the server stopped the stream before its action ended (`stop_reason` says why)."""
    duration: float
    """Seconds from the request to the end of the answer (of the stream, for a stream)."""
    chunks: int = 0
    """Chunks the stream produced for its client; 0 for a plain call."""
    fail_code: str | None = None
    stop_reason: str | None = None
    """`disconnected`, `send_timeout`, `deadline` or `shutdown`, when the server stopped the
    stream; a deadline and a shutdown also end it with their fail."""
    result: Any = None
    """A plain call's result, before it is encoded; None otherwise."""

    @property
    def success(self) -> bool:
        return self.status == "success"


@dataclass(frozen=True, slots=True)
class RegisteredHook:
    """One hook, and where it was registered."""

    kind: HookKind
    function: Callable[..., Any]
    registered_in: str
    """The module whose code registered it: the build keeps every registration in the
    module that declares the hooks, so that their order is the order written there."""


class Hooks(Generic[ContextT]):
    """The app's hooks, declared once in one module of the app package, with the context
    class its actions and hooks share (it also fixes the meta model, `Context[Meta]`).

    ```python
    hooks = Hooks(context=AppContext)

    @hooks.before_execute
    async def authenticate(context: AppContext) -> None:
        if context.meta.auth == "user" and context.user is None:
            raise UNAUTHORIZED.reject(...)
    ```

    Order: `before_execute` hooks run in the order they are registered, before the params
    are validated, and a `Reject` from one ends the call with its fail (the action does not
    run); `on_chunk` hooks run in that order for each chunk of a stream, before it is sent,
    and a `Reject` ends the stream with its fail; `after_execute` hooks run in the reverse
    order, once the answer is complete (a stream's too), whatever its outcome, so the first
    hook registered wraps all the others. A hook may be `async def` or a plain `def`.
    """

    def __init__(self, *, context: type[ContextT] | None = None) -> None:
        self.context_type: type[ContextT] = context or cast(type[ContextT], Context)
        self.meta_type: type[ApiMeta] = meta_type_of(self.context_type)
        self.registered: list[RegisteredHook] = []
        self.defined_in: str = _caller_module()

    def before_execute(
        self, hook: Callable[[ContextT], Awaitable[None] | None]
    ) -> Callable[[ContextT], Awaitable[None] | None]:
        """Register `hook(context)`: it runs before the action."""
        return self._register("before_execute", hook)

    def on_chunk(
        self, hook: Callable[[ContextT, Any], Awaitable[None] | None]
    ) -> Callable[[ContextT, Any], Awaitable[None] | None]:
        """Register `hook(context, chunk)`: it runs for each chunk a stream yields (the
        chunk inside a `Tracked`), before the chunk is sent."""
        return self._register("on_chunk", hook)

    def after_execute(
        self, hook: Callable[[ContextT, Outcome], Awaitable[None] | None]
    ) -> Callable[[ContextT, Outcome], Awaitable[None] | None]:
        """Register `hook(context, outcome)`: it runs once the answer is complete. It cannot
        change the answer; what it raises is logged."""
        return self._register("after_execute", hook)

    def of_kind(self, kind: HookKind) -> list[RegisteredHook]:
        """The hooks of `kind`, in the order they run."""
        hooks = [hook for hook in self.registered if hook.kind == kind]
        return hooks[::-1] if kind == "after_execute" else hooks

    def _register(self, kind: HookKind, hook: HookT) -> HookT:
        self.registered.append(RegisteredHook(kind, hook, _caller_module(2)))
        return hook


def meta_type_of(context_type: Any) -> type[ApiMeta]:
    """The meta model a context class was declared with: `Meta` for `Context[Meta]` or a
    subclass of it; `ApiMeta` when it names none."""
    candidates = [context_type, *getattr(context_type, "__mro__", ())]
    for candidate in candidates:
        if get_origin(candidate) is Context:
            argument = get_args(candidate)[0]
            return argument if _is_meta_model(argument) else ApiMeta
        for base in getattr(candidate, "__orig_bases__", ()):
            if get_origin(base) is Context:
                argument = get_args(base)[0]
                return argument if _is_meta_model(argument) else ApiMeta
    return ApiMeta


def _is_meta_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, ApiMeta)


def _caller_module(depth: int = 1) -> str:
    """The module of the code `depth` frames above the caller."""
    frame = sys._getframe(depth + 1)  # pyright: ignore[reportPrivateUsage]
    return str(frame.f_globals.get("__name__", ""))
