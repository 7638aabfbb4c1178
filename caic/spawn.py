"""Run a job function in a fresh child process, with its config object.

The pipeline runs generation, labelling and evals this way so that each stage's model
memory is returned to the system when the stage ends (DESIGN §3: "in a child process where
memory demands it ... never by rebuilding a command line"). The child is started with
``multiprocessing``'s *spawn* method: a new interpreter that imports only what the job
needs, with no state copied from the parent (no forked torch threads or CUDA context).

A :class:`~caic.errors.CaicError` raised in the child comes back as the same error (its
diagnostics and exit code); any other exception comes back as one line naming the job.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from caic.errors import CaicError, Diagnostic, UsageError

C = TypeVar("C")
R = TypeVar("R")


def run_in_child(fn: Callable[[C], R], cfg: C) -> R:
    """``fn(cfg)`` in a spawned child process; its result (which must pickle) returned.

    ``fn`` must be importable by name (a module-level function) and ``cfg`` picklable (a
    pydantic config is)."""
    ctx = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            ok, value = pool.submit(_call, fn, cfg).result()
    except BrokenProcessPool:
        raise CaicError(f"{_name(fn)}: the child process died (out of memory, or killed)") from None
    if ok:
        return value  # type: ignore[no-any-return]
    raise _rebuilt(fn, value)


def _name(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def _call(fn: Callable[[Any], Any], cfg: Any) -> tuple[bool, Any]:
    """In the child: the result, or the error as plain data (an exception class with its own
    constructor does not always survive pickling)."""
    try:
        return True, fn(cfg)
    except CaicError as e:
        return False, {
            "diagnostics": [d.model_dump() for d in e.diagnostics],
            "exit_code": e.exit_code,
            "usage": isinstance(e, UsageError),
        }
    except Exception as e:  # reported in the parent as one line
        return False, {"message": f"{type(e).__name__}: {e}"}


def _rebuilt(fn: Callable[..., Any], data: dict[str, Any]) -> CaicError:
    if "diagnostics" not in data:
        return CaicError(f"{_name(fn)} failed: {data['message']}")
    diags = [Diagnostic(**d) for d in data["diagnostics"]]
    cls = UsageError if data["usage"] else CaicError
    return cls(diags, exit_code=data["exit_code"])
