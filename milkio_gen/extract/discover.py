"""Finding the APIs, fail codes and channels of an app package, and naming API paths."""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from ..api import ApiDefinition, get_definition
from ..channels.channel import Channel
from ..fails import FailCodes
from ..hooks import Hooks
from ..progress import SILENT, Progress
from ..signature import SourceLocation, source_location
from .errors import BuildError

__all__ = ["Discovery", "FoundApi", "FoundChannel", "FoundFailCodes", "FoundHooks", "discover"]

_PATH = re.compile(r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$")


@dataclass(frozen=True, slots=True)
class FoundApi:
    path: str
    module: str
    name: str
    definition: ApiDefinition
    location: SourceLocation | None


@dataclass(frozen=True, slots=True)
class FoundFailCodes:
    module: str
    name: str
    fail_codes: FailCodes


@dataclass(frozen=True, slots=True)
class FoundHooks:
    module: str
    name: str
    hooks: Hooks[Any]


@dataclass(frozen=True, slots=True)
class FoundChannel:
    module: str
    name: str
    channel: Channel[Any]
    location: SourceLocation


@dataclass(slots=True)
class Discovery:
    apis: list[FoundApi]
    fail_codes: FoundFailCodes | None
    errors: list[BuildError]
    channels: list[FoundChannel] = field(default_factory=list[FoundChannel])
    hooks: FoundHooks | None = None


def _kebab(name: str) -> str:
    return name.replace("_", "-")


def api_path(app: str, module: str, function_name: str) -> str:
    """`examples.app.chat.send` + `action` -> `chat/send`; another name adds `/<name>`."""
    relative = module.removeprefix(app).lstrip(".")
    parts = [_kebab(part) for part in relative.split(".") if part]
    if function_name != "action":
        parts.append(_kebab(function_name))
    return "/".join(parts)


def _import_error(module: str, error: BaseException) -> BuildError:
    if isinstance(error, SyntaxError) and error.filename:
        location = SourceLocation(
            _project_file(error.filename) or error.filename, error.lineno or 0
        )
        return BuildError(f"syntax error: {error.msg}", "correct the syntax", location)
    location = None
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        shown = _project_file(frame.filename)
        if shown is not None:
            location = SourceLocation(shown, frame.lineno or 0)
            break
    return BuildError(
        f"importing {module} raised {type(error).__name__}: {error}",
        "make the module importable on its own (python -c 'import " + module + "')",
        location,
    )


def _project_file(filename: str) -> str | None:
    """The file relative to the project, or None for library and generated frames."""
    try:
        relative = Path(filename).resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return None
    if relative.parts and relative.parts[0] in (".venv", "venv", "site-packages"):
        return None
    return relative.as_posix()


def _modules(app: str, errors: list[BuildError], progress: Progress) -> list[ModuleType]:
    progress.detail(app)
    package = importlib.import_module(app)
    modules = [package]
    search_path = getattr(package, "__path__", None)
    if search_path is None:
        return modules
    names = sorted(info.name for info in pkgutil.walk_packages(search_path, prefix=f"{app}."))
    for name in names:
        progress.detail(name)
        try:
            modules.append(importlib.import_module(name))
        except (Exception, SystemExit) as error:  # an app may call sys.exit() as it loads
            errors.append(_import_error(name, error))
    return modules


def discover(app: str, progress: Progress = SILENT) -> Discovery:
    """Import every module of the `app` package and collect what `define_api` marked."""
    errors: list[BuildError] = []
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        modules = _modules(app, errors, progress)
    except (Exception, SystemExit) as error:
        errors.append(_import_error(app, error))
        return Discovery([], None, errors)

    apis: list[FoundApi] = []
    fail_codes: list[FoundFailCodes] = []
    hooks: list[FoundHooks] = []
    channels: dict[int, FoundChannel] = {}
    for module in modules:
        seen: set[int] = set()
        for name, value in sorted(vars(module).items()):
            definition = get_definition(value)
            owned = getattr(value, "__module__", None) == module.__name__
            if definition is not None and owned and id(value) not in seen:
                seen.add(id(value))
                # A function bound to several names is one API, under the name it was defined with.
                own_name = getattr(value, "__name__", name)
                if getattr(module, own_name, None) is value:
                    name = own_name
                apis.append(_found_api(app, module.__name__, name, definition, errors))
            elif isinstance(value, FailCodes) and not any(
                found.fail_codes is value for found in fail_codes
            ):
                fail_codes.append(FoundFailCodes(module.__name__, name, value))
            elif isinstance(value, Hooks) and not any(found.hooks is value for found in hooks):
                hooks.append(FoundHooks(module.__name__, name, cast(Hooks[Any], value)))
            elif isinstance(value, Channel) and value.defined_at[0] == module.__name__:
                channel = cast(Channel[Any], value)
                if id(channel) not in channels:
                    channels[id(channel)] = _found_channel(module.__name__, name, channel)

    _check_paths(apis, errors)
    found_channels = sorted(
        channels.values(),
        key=lambda found: (found.channel.name, found.location.file, found.location.line),
    )
    _check_channel_names(found_channels, errors)
    _check_single(fail_codes, "fail codes", "`FailCodes()` object and register every code", errors)
    _check_single(hooks, "hooks", "`Hooks()` object and register every hook", errors)
    return Discovery(
        sorted(apis, key=lambda api: api.path),
        next(iter(fail_codes), None),
        errors,
        found_channels,
        next(iter(hooks), None),
    )


def _check_single(
    found: list[FoundFailCodes] | list[FoundHooks], what: str, keep: str, errors: list[BuildError]
) -> None:
    """An app declares its fail codes, and its hooks, in one object."""
    if len(found) > 1:
        places = ", ".join(f"{each.module}.{each.name}" for each in found)
        errors.append(
            BuildError(
                f"the app declares {what} in more than one place: {places}",
                f"keep a single {keep} on it",
            )
        )


def _found_channel(module: str, name: str, channel: Channel[Any]) -> FoundChannel:
    _, file, line = channel.defined_at
    depth = len(module.split(".")) + (Path(file).stem == "__init__")
    location = SourceLocation(Path(*Path(file).parts[-depth:]).as_posix(), line)
    return FoundChannel(module, name, channel, location)


def _check_channel_names(channels: list[FoundChannel], errors: list[BuildError]) -> None:
    by_name: dict[str, FoundChannel] = {}
    for found in channels:
        other = by_name.setdefault(found.channel.name, found)
        if other is not found:
            errors.append(
                BuildError(
                    f"two channels are named {found.channel.name!r}: "
                    f"{other.module}.{other.name} and {found.module}.{found.name}",
                    "give each channel a name of its own; key one channel instead, as "
                    "`rooms(room_id)`, for channels of the same kind",
                    found.location,
                )
            )


def _found_api(
    app: str, module: str, name: str, definition: ApiDefinition, errors: list[BuildError]
) -> FoundApi:
    location = source_location(definition.function)
    path = definition.path if definition.path is not None else api_path(app, module, name)
    return FoundApi(path, module, name, definition, location)


def _check_paths(apis: list[FoundApi], errors: list[BuildError]) -> None:
    seen: dict[str, FoundApi] = {}
    for api in apis:
        if not _PATH.match(api.path) or {".", ".."} & set(api.path.split("/")):
            errors.append(
                BuildError(
                    f"{api.module}.{api.name} has no valid API path ({api.path!r})",
                    "give `define_api(path=...)` segments of letters, digits and - . _ ~ "
                    "(not `.` or `..` alone) separated by /, or name the function `action` "
                    "in its own module",
                    api.location,
                )
            )
        elif api.path in seen:
            other = seen[api.path]
            errors.append(
                BuildError(
                    f"two APIs have the path {api.path!r}: {other.module}.{other.name} "
                    f"({other.location}) and {api.module}.{api.name}",
                    "rename one of the functions or give one an explicit `path=`",
                    api.location,
                    api.path,
                )
            )
        else:
            seen[api.path] = api
