"""What the command line prints: errors in colour on a terminal and plain elsewhere (a CI
log, a pipe, `NO_COLOR`), nothing but errors with `--quiet`, and a progress bar once a
build has run for a second, so that a quick build prints only its summary."""

from __future__ import annotations

import os
import sys
import threading
from types import TracebackType
from typing import TYPE_CHECKING

import click

from .progress import PHASES

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress

__all__ = ["Console", "ProgressBar"]


def _color() -> bool | None:
    """`NO_COLOR` and `FORCE_COLOR` (no-color.org) win; else only a terminal gets colour."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return None


class Console:
    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet

    def say(self, line: str) -> None:
        if not self.quiet:
            click.echo(line)

    def error(self, line: str) -> None:
        click.secho(line, err=True, fg="red", color=_color())

    def progress_bar(self, delay: float = 1.0) -> ProgressBar:
        """A build's progress, drawn on stderr when it is a terminal and the build is slow."""
        shown = not self.quiet and sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
        return ProgressBar(enabled=shown, delay=delay)


class ProgressBar:
    """A build's `Progress`, drawn once it has run for `delay` seconds and gone at its end."""

    def __init__(self, *, enabled: bool, delay: float) -> None:
        self._enabled = enabled
        self._delay = delay
        self._lock = threading.Lock()
        self._phase = 0
        self._text = PHASES[0]
        self._bar: RichProgress | None = None
        self._closed = False
        self._timer = threading.Timer(delay, self._show)
        self._timer.daemon = True

    def __enter__(self) -> ProgressBar:
        if self._enabled:
            self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._timer.cancel()
        with self._lock:
            self._closed = True
            if self._bar is not None:
                self._bar.stop()

    def phase(self, name: str) -> None:
        with self._lock:
            self._phase = PHASES.index(name)
            self._text = name
            self._redraw()

    def detail(self, text: str) -> None:
        with self._lock:
            self._text = f"{PHASES[self._phase]}: {text}"
            self._redraw()

    def _show(self) -> None:
        from rich.console import Console as RichConsole
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with self._lock:
            if self._closed:
                return
            self._bar = Progress(
                TextColumn("building"),
                BarColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=RichConsole(stderr=True),
                transient=True,
            )
            self._bar.add_task(self._text, total=len(PHASES), completed=self._phase)
            self._bar.start()

    def _redraw(self) -> None:
        if self._bar is not None:
            task = self._bar.task_ids[0]
            self._bar.update(task, description=self._text, completed=self._phase)
