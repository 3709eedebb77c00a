"""The `milkio-gen` command line."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from .config import BuildConfig, ConfigError, load_config
from .console import Console
from .extract import BuildFailed

EXIT_CODES = """\b
Exit codes:
  0  done
  1  the build failed; with --check, files are out of date
  2  a usage or configuration error: an unknown option, no app configured,
     a directory for `new` that is not empty, a port for `dev` in use
"""

app = typer.Typer(
    help="""Typed RPC with streams: build the manifest and generated code of an app, serve it.

    \b
    Examples:
      milkio-gen new shop      # a project to start from, in ./shop
      milkio-gen dev           # serve, and build again on every save
      milkio-gen build         # write schema/ and generated/
      milkio-gen build --check # in CI: exit 1 if generated/ is out of date
      milkio-gen serve         # serve what was built
    """,
    epilog=EXIT_CODES,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

AppOption = Annotated[
    str | None, typer.Option("--app", help="The app package, importable from the project root.")
]
SchemaOption = Annotated[
    Path | None, typer.Option("--schema", help="The manifest file [default: schema/manifest.json].")
]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="The generated package directory [default: generated].")
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")]


def _show_version(shown: bool) -> None:
    if shown:
        from importlib.metadata import version

        typer.echo(f"milkio-gen {version('milkio-gen')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_show_version
        ),
    ] = False,
) -> None:
    pass


def _config(
    console: Console, *, app: str | None, schema: Path | None = None, out: Path | None
) -> BuildConfig:
    """The settings of the project here; a bad one ends the command with exit code 2."""
    try:
        return load_config(Path.cwd(), app=app, schema=schema, out=out)
    except ConfigError as error:
        console.error(f"error: {error}")
        raise typer.Exit(2) from None


def _failed(console: Console, failed: BuildFailed) -> None:
    for error in failed.errors:
        console.error(f"error: {error}")
    console.error(f"build failed: {len(failed.errors)} error(s)")


@app.command(epilog=EXIT_CODES)
def build(
    app_package: AppOption = None,
    schema: SchemaOption = None,
    out: OutOption = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 if any file is out of date."),
    ] = False,
    quiet: QuietOption = False,
) -> None:
    """Build the manifest, server and clients of the app.

    Ends with one line: the APIs, the files written and unchanged, the time taken. A build
    that runs longer than a second shows a progress bar on a terminal.

    \b
    Examples:
      milkio-gen build
      milkio-gen build --check --quiet
      milkio-gen build --app other_app --schema build/manifest.json --out build
    """
    from .build import build as run_build

    console = Console(quiet=quiet)
    started = time.perf_counter()
    config = _config(console, app=app_package, schema=schema, out=out)
    try:
        with console.progress_bar() as progress:
            report = run_build(config, check=check, progress=progress)
    except BuildFailed as failed:
        _failed(console, failed)
        raise typer.Exit(1) from None
    for path in report.stale:
        console.error(f"stale: {path.as_posix()}")
    summary = report.summary(time.perf_counter() - started)
    if report.stale:
        console.error(f"{summary}: run `milkio-gen build`")
        raise typer.Exit(1)
    console.say(summary)


@app.command(epilog=EXIT_CODES)
def new(
    directory: Annotated[Path, typer.Argument(help="Where to make the project: new or empty.")],
    name: Annotated[
        str | None, typer.Option("--name", help="The project's name [default: the directory's].")
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Make a new project to start from.

    An app with a plain and a stream API, built, with a test that runs the generated client
    against a real server, in a new or empty directory.

    \b
    Examples:
      milkio-gen new shop
      milkio-gen new . --name shop
    """
    from .scaffold import ScaffoldError, create_project

    console = Console(quiet=quiet)
    try:
        project = create_project(directory, name)
    except ScaffoldError as error:
        console.error(f"error: {error}")
        raise typer.Exit(2) from None
    except BuildFailed as failed:  # pragma: no cover - the templates build
        _failed(console, failed)
        raise typer.Exit(1) from None
    console.say(f"made {project.name} in {directory}: {len(project.files)} files")
    console.say(f"  cd {directory}")
    console.say('  pip install -e ".[dev]" && pytest')
    console.say("  milkio-gen dev")


HostOption = Annotated[str, typer.Option(help="Interface to listen on.")]
PortOption = Annotated[int, typer.Option(help="Port to listen on.")]


@app.command(epilog=EXIT_CODES)
def dev(
    app_package: AppOption = None,
    schema: SchemaOption = None,
    out: OutOption = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 9000,
    quiet: QuietOption = False,
) -> None:
    """Serve the app; build and restart on every save.

    Watches the directory of the app's top-level package (`shop/` for the app `shop.app`),
    except the generated package. Only the files whose bytes changed are written. A build
    that fails prints its errors and keeps the last good build and server running. With
    --quiet, the server logs warnings only. Stops on Ctrl-C.

    \b
    Examples:
      milkio-gen dev
      milkio-gen dev --port 8000 --quiet
    """
    from .dev.loop import DevLoop, port_taken

    console = Console(quiet=quiet)
    config = _config(console, app=app_package, schema=schema, out=out)
    if port_taken(host, port):
        console.error(f"error: {host}:{port} is in use: stop what serves there, or pass --port")
        raise typer.Exit(2)
    DevLoop(config, host=host, port=port, console=console).run()


@app.command(epilog=EXIT_CODES)
def serve(
    out: OutOption = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 9000,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
    grace_period: Annotated[
        int, typer.Option(help="Seconds requests get to end on shutdown, once streams stop.")
    ] = 10,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin",
            help="An origin whose pages may call the APIs (repeat it; '*' for any); "
            "replaces `cors_origins` of [tool.milkio-gen.http].",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Processes sharing the port; for channels across them, a Redis backend "
            "(MILKIO_CHANNELS_BACKEND=redis-streams).",
        ),
    ] = 1,
    static: Annotated[
        list[str] | None,
        typer.Option(
            "--static",
            metavar="PATH=DIR",
            help="Serve the directory DIR at the URL path PATH (repeat it); added to `static` "
            "of [tool.milkio-gen.http].",
        ),
    ] = None,
    certfile: Annotated[
        Path | None,
        typer.Option(
            "--certfile",
            help="A PEM certificate (with its chain): serve HTTPS with HTTP/2, so that a page "
            "may hold more than six streams; needs --keyfile and `milkio-gen[http2]`.",
        ),
    ] = None,
    keyfile: Annotated[
        Path | None, typer.Option("--keyfile", help="The certificate's PEM private key.")
    ] = None,
    header_timeout: Annotated[
        float,
        typer.Option(
            min=0.1,
            help="Seconds a connection gets to send a request's line and headers; slower ones "
            "are closed (a slowloris).",
        ),
    ] = 10.0,
) -> None:
    """Serve the generated server (`<out>/server.py`): with uvicorn, or over TLS with HTTP/2
    (and HTTP/1.1 by ALPN) with hypercorn when given a certificate.

    Options given here reach the server as `MILKIO_HTTP_*` environment variables, which
    override what the build wrote.

    \b
    Examples:
      milkio-gen serve
      milkio-gen serve --port 8000 --out build --log-level warning
      milkio-gen serve --cors-origin http://localhost:5173 --static /web=web/dist
      MILKIO_CHANNELS_BACKEND=redis-streams milkio-gen serve --workers 4
      milkio-gen serve --host 0.0.0.0 --port 443 --certfile cert.pem --keyfile key.pem
    """
    from pydantic import ValidationError

    from .http_settings import HttpSettings
    from .server_settings import ServerSettings
    from .serving import TLS_MISSING
    from .serving import serve as serve_app

    console = Console()
    config = _config(console, out=out, app="-")
    if not (config.out / "server.py").is_file():
        console.error(f"error: no {config.out / 'server.py'}: run `milkio-gen build`")
        raise typer.Exit(2)
    if (certfile is None) != (keyfile is None):
        console.error("error: --certfile and --keyfile go together: give both or neither")
        raise typer.Exit(2)
    for given in (certfile, keyfile):
        if given is not None and not given.is_file():
            console.error(f"error: no file {given}")
            raise typer.Exit(2)
    if certfile is not None and importlib.util.find_spec("hypercorn") is None:
        console.error(f"error: {TLS_MISSING}")
        raise typer.Exit(2)
    if cors_origin:
        os.environ["MILKIO_HTTP_CORS_ORIGINS"] = json.dumps(cors_origin)
    if static:
        mounts = dict(config.http.get("static", {}))
        for mount in static:
            path, separator, directory = mount.partition("=")
            if not separator or not path.startswith("/") or not directory:
                console.error(f"error: --static {mount}: write it PATH=DIR, as /web=web/dist")
                raise typer.Exit(2)
            mounts[path] = directory
        os.environ["MILKIO_HTTP_STATIC"] = json.dumps(mounts)
    try:  # what every worker will read: a bad MILKIO_HTTP_* is said here, once
        http = HttpSettings(**config.http)
    except ValidationError as error:
        console.error(f"error: the HTTP settings (MILKIO_HTTP_*, serve options): {error}")
        raise typer.Exit(2) from None
    try:
        ServerSettings(**config.server)
    except ValidationError as error:
        console.error(f"error: the server settings (MILKIO_SERVER_*): {error}")
        raise typer.Exit(2) from None
    sys.path.insert(0, str(Path.cwd()))
    module = ".".join(config.out.with_suffix("").parts)
    base_url = f"{'https' if certfile else 'http'}://{host}:{port}"
    console.say(f"serving {module}.server:app on {base_url}")
    for path in sorted(http.static):
        console.say(f"  pages: {base_url}{path.rstrip('/')}/")
    serve_app(
        f"{module}.server:app",
        host=host,
        port=port,
        log_level=log_level,
        grace_period=grace_period,
        workers=workers,
        certfile=None if certfile is None else str(certfile),
        keyfile=None if keyfile is None else str(keyfile),
        header_timeout=header_timeout,
    )


def main() -> None:
    app()
