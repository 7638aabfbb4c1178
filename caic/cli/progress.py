"""The command line's progress bar: one rich bar per task on stderr, with the rate since
this invocation started (rows resumed from an earlier run are not counted) and an ETA."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from caic.progress import Progress


def say(text: str) -> None:
    """Print one line for the user on stderr."""
    typer.echo(text, err=True)


@contextmanager
def progress_bar(unit: str = "items") -> Iterator[Progress]:
    """A :data:`~caic.progress.Progress` that draws rich bars while the block runs."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as Bars

    bars = Bars(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    tasks: dict[str, TaskID] = {}
    starts: dict[str, tuple[float, int]] = {}

    def update(task: str, done: int, total: int) -> None:
        # Rows per second since this invocation started the task; rich's own speed needs
        # several updates within 30 s, which slow batches do not give.
        now = time.perf_counter()
        if task not in tasks:
            tasks[task] = bars.add_task(task, total=total, completed=done, rate=f"-- {unit}/s")
            starts[task] = (now, done)
            return
        t0, d0 = starts[task]
        rate = f"{(done - d0) / (now - t0):.2f} {unit}/s" if now > t0 and done > d0 else "--"
        bars.update(tasks[task], completed=done, total=total, rate=rate)

    with bars:
        yield update
