"""Run the rules over a constitution: select, override severities, suppress, sort."""

from __future__ import annotations

import contextlib
from typing import Any

from caic.compiler.lint.config import LintConfig
from caic.compiler.lint.context import LintContext
from caic.compiler.lint.encoder import EncoderUnavailable
from caic.compiler.lint.registry import all_rules
from caic.compiler.lint.suppress import Suppressions
from caic.constitution_lang.model import Constitution
from caic.errors import Diagnostic

SEVERITY_ORDER = {"error": 0, "warning": 1, "note": 2}


def lint(
    constitution: Constitution,
    config: LintConfig | None = None,
    *,
    deep_backend: Any = None,
    sources: dict[str, str] | None = None,
    engine: str | None = None,
) -> list[Diagnostic]:
    """Every finding for ``constitution``, sorted by file, line, column and code.

    ``sources`` maps a path to its text (read from disk when missing) for inline
    suppressions; ``deep_backend`` enables the model-based contradiction check.
    """
    with _single_threaded_blas(deep_backend is None):
        return _lint(constitution, config, deep_backend, sources, engine)


def _single_threaded_blas(limit: bool = True) -> contextlib.AbstractContextManager[object]:
    """numpy's BLAS on one thread while linting. The products outside the encoder are
    small (milliseconds each): a second BLAS thread barely shortens them, then spins
    waiting for more work and burns a core (0.6 CPU-seconds of a 1,000-principle lint,
    time a busy machine takes from the run). The encoder runs its batches on threads of
    its own, each with single-threaded BLAS already. Not with ``--deep``: a model
    backend's matrix products may go through the same BLAS library."""
    if not limit:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _lint(
    constitution: Constitution,
    config: LintConfig | None,
    deep_backend: Any,
    sources: dict[str, str] | None,
    engine: str | None,
) -> list[Diagnostic]:
    config = config or LintConfig()
    ctx = LintContext(constitution, deep_backend=deep_backend, engine=engine)
    supp = Suppressions(constitution, sources)
    out: list[Diagnostic] = []
    for r in all_rules():
        if not config.enabled(r.code):
            continue
        level = config.severity.get(r.code)
        try:
            found = list(r.check(ctx))
        except EncoderUnavailable as e:
            # The meaning layer needs the packaged embedding model; without it the
            # semantic rules are skipped, visibly, instead of failing the whole lint.
            found = [ctx.diag(r.code, "note", f"rule skipped: {e}", ctx.header_span(constitution))]
            level = None
        for d in found:
            if supp.suppressed(d):
                continue
            # A note is a finding the rule itself settled (a contradiction resolved by a
            # priority): a severity override raises the rule's findings, not its notes.
            if level and d.severity != "note":
                d = d.model_copy(update={"severity": level})
            out.append(d)
    out.sort(key=lambda d: (d.path, d.line, d.column, d.code, d.principles))
    return out


def worst(diags: list[Diagnostic]) -> int:
    """Exit status for lint findings: 1 when any is a warning or an error, else 0."""
    return 1 if any(SEVERITY_ORDER[d.severity] <= 1 for d in diags) else 0
