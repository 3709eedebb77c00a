"""The `milkio-gen` command line."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from .config import ConfigError, load_config
from .extract import BuildFailed

app = typer.Typer(
    help="Typed RPC with streams: build the manifest and generated code of an app, serve it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
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


@app.command()
def build(
    app_package: AppOption = None,
    schema: SchemaOption = None,
    out: OutOption = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 if any file is out of date."),
    ] = False,
) -> None:
    """Extract the manifest of the app and generate its server and clients.

    Examples:

        milkio-gen build

        milkio-gen build --check

        milkio-gen build --app other_app --schema build/manifest.json --out build
    """
    from .build import build as run_build

    started = time.perf_counter()
    try:
        config = load_config(Path.cwd(), app=app_package, schema=schema, out=out)
        report = run_build(config, check=check)
    except ConfigError as error:
        typer.secho(f"error: {error}", err=True, fg="red")
        raise typer.Exit(2) from None
    except BuildFailed as failed:
        for error in failed.errors:
            typer.secho(f"error: {error}", err=True, fg="red")
        typer.secho(f"build failed: {len(failed.errors)} error(s)", err=True, fg="red")
        raise typer.Exit(1) from None
    elapsed = time.perf_counter() - started
    if check:
        for path in report.stale:
            typer.secho(f"stale: {path.as_posix()}", err=True, fg="red")
        if report.stale:
            typer.secho("out of date: run `milkio-gen build`", err=True, fg="red")
            raise typer.Exit(1)
        typer.echo(
            f"up to date: {report.apis} APIs, {len(report.unchanged)} files ({elapsed:.2f}s)"
        )
        return
    typer.echo(
        f"built {report.apis} APIs: {len(report.written)} files written, "
        f"{len(report.unchanged)} unchanged ({elapsed:.2f}s)"
    )


@app.command()
def new(
    directory: Annotated[Path, typer.Argument(help="Where to make the project: new or empty.")],
    name: Annotated[
        str | None, typer.Option("--name", help="The project's name [default: the directory's].")
    ] = None,
) -> None:
    """Make a new project to start from.

    An app with a plain and a stream API, built, with a test that runs the generated client
    against a real server, in a new or empty directory.

    Examples:

        milkio-gen new shop

        milkio-gen new . --name shop
    """
    from .scaffold import ScaffoldError, create_project

    try:
        project = create_project(directory, name)
    except ScaffoldError as error:
        typer.secho(f"error: {error}", err=True, fg="red")
        raise typer.Exit(2) from None
    except BuildFailed as failed:  # pragma: no cover - the templates build
        for error in failed.errors:
            typer.secho(f"error: {error}", err=True, fg="red")
        raise typer.Exit(1) from None
    typer.echo(f"made {project.name} in {directory}: {len(project.files)} files")
    typer.echo(f"  cd {directory}")
    typer.echo('  pip install -e ".[dev]" && pytest')
    typer.echo("  milkio-gen dev")


@app.command()
def dev(
    app_package: AppOption = None,
    schema: SchemaOption = None,
    out: OutOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9000,
) -> None:
    """Serve the app; on every save, build it again and restart the server.

    Only the files whose bytes changed are written. A build that fails prints its errors
    and keeps the last good build and server running.

    Examples:

        milkio-gen dev

        milkio-gen dev --port 8000
    """
    from .dev import DevLoop

    try:
        config = load_config(Path.cwd(), app=app_package, schema=schema, out=out)
    except ConfigError as error:
        typer.secho(f"error: {error}", err=True, fg="red")
        raise typer.Exit(2) from None

    def say(line: str, error: bool) -> None:
        if error:
            typer.secho(line, err=True, fg="red")
        else:
            typer.echo(line)

    DevLoop(config, host=host, port=port, say=say).run()


@app.command()
def serve(
    out: OutOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9000,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
    grace_period: Annotated[
        int, typer.Option(help="Seconds requests get to end on shutdown, once streams stop.")
    ] = 10,
) -> None:
    """Serve the generated server (`<out>/server.py`) with uvicorn.

    Examples:

        milkio-gen serve

        milkio-gen serve --port 8000 --out build
    """
    from .serving import serve as serve_app

    try:
        config = load_config(Path.cwd(), out=out, app="-")
    except ConfigError as error:
        typer.secho(f"error: {error}", err=True, fg="red")
        raise typer.Exit(2) from None
    if not (config.out / "server.py").is_file():
        typer.secho(f"error: no {config.out / 'server.py'}: run `milkio-gen build`", err=True)
        raise typer.Exit(2)
    sys.path.insert(0, str(Path.cwd()))
    module = ".".join(config.out.with_suffix("").parts)
    typer.echo(f"serving {module}.server:app on http://{host}:{port}")
    serve_app(
        f"{module}.server:app",
        host=host,
        port=port,
        log_level=log_level,
        grace_period=grace_period,
    )


def main() -> None:
    app()
