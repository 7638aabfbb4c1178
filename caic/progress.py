"""How a long job tells its caller what it is doing, without knowing who is listening.

Stage functions take ``say`` (a line for the user: what was loaded, resumed, skipped) and
``progress`` (``progress(task, done, total)`` after each batch, ``done`` counting rows
finished before a resume too). Both default to silence, so a notebook or the pipeline calls
a stage quietly; the command line passes the stderr printer and the rich progress bar of
:mod:`caic.cli.progress`.
"""

from __future__ import annotations

from collections.abc import Callable

Say = Callable[[str], None]
"""One line for the user."""
Progress = Callable[[str, int, int], None]
"""``(task, done, total)``."""


def quiet(text: str) -> None:
    """A :data:`Say` that says nothing."""


def no_progress(task: str, done: int, total: int) -> None:
    """A :data:`Progress` that shows nothing."""
