"""Progress bars on a terminal, silence elsewhere (CI logs, pipes, cron)."""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator


class _Quiet:
    def advance(self, n: int = 1) -> None:
        pass

    def total(self, n: int | None) -> None:
        pass


class _Bar:
    def __init__(self, progress, task) -> None:
        self._p, self._t = progress, task

    def advance(self, n: int = 1) -> None:
        self._p.advance(self._t, n)

    def total(self, n: int | None) -> None:
        self._p.update(self._t, total=n)


@contextlib.contextmanager
def progress(label: str, total: int | None = None, enabled: bool | None = None) -> Iterator[_Bar | _Quiet]:
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield _Quiet()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _rate_column(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=False) as p:
        yield _Bar(p, p.add_task(label, total=total))


def _rate_column():
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        """Rows per second, blank until rich has measured a speed (it has none after a single update)."""

        def render(self, task) -> Text:
            return Text(f"{task.speed:>8,.0f} 行/秒" if task.speed is not None else " " * 12)

    return Rate()
