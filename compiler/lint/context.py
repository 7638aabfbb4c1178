"""What a rule sees: the constitution, helpers to point at its parts, shared analyses."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from caic.codes import CODES
from caic.constitution_lang.model import Category, Constitution, Principle, Span
from caic.errors import Diagnostic, Severity


@dataclass
class LintContext:
    """One constitution being linted, with lazily computed, shared analyses."""

    constitution: Constitution
    deep_backend: Any = None
    """A model backend for ``--deep`` (``score_options``), or ``None``."""
    engine: str | None = None
    """Embedding engine override (``numpy`` or ``transformers``)."""
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        c = self.constitution
        return c.path or c.span.path

    @functools.cached_property
    def judged(self) -> list[Principle]:
        """Principles with a judge text, in declaration order."""
        return [p for p in self.constitution.principles if p.judge]

    @functools.cached_property
    def pair_scores(self) -> Any:
        """:class:`~caic.compiler.lint.semantics.PairScores` over the judge texts."""
        from caic.compiler.lint.semantics import analyse

        return analyse([p.judge or "" for p in self.judged], self.engine)

    @functools.cached_property
    def priority_below(self) -> dict[str, set[str]]:
        """category → every category some chain places below it (transitively)."""
        below: dict[str, set[str]] = {c.name: set() for c in self.constitution.categories}
        for chain in self.constitution.priority:
            for hi, lo in zip(chain.categories, chain.categories[1:], strict=False):
                below.setdefault(hi, set()).add(lo)
                below.setdefault(lo, set())
        changed = True
        while changed:
            changed = False
            for k, v in below.items():
                extra = set().union(*(below.get(x, set()) for x in v)) - v - {k}
                if extra:
                    v |= extra
                    changed = True
        return below

    def diag(
        self,
        code: str,
        severity: Severity,
        message: str,
        span: Span | None,
        *,
        principles: tuple[str, ...] = (),
        hint: str | None = None,
    ) -> Diagnostic:
        """A diagnostic at ``span`` (the constitution header when ``None``), named as the
        code table names ``code``.

        Built without validation: every value comes from the rules and the parsed
        constitution, already typed, and a large constitution yields thousands of pair
        findings (validating them took 0.1 s on the 1,000-principle benchmark)."""
        s = span or self.constitution.span
        return Diagnostic.model_construct(
            code=code,
            name=CODES[code].name,
            severity=severity,
            message=message,
            path=s.path or self.path,
            line=s.line,
            column=s.column,
            end_line=s.end_line,
            end_column=s.end_column,
            hint=hint,
            principles=principles,
        )

    def field_span(self, p: Principle, *names: str) -> Span:
        """Span of the first of ``names`` the principle wrote, else of the principle."""
        for n in names:
            if n in p.field_spans:
                return p.field_spans[n]
        return p.span

    def header_span(self, node: Principle | Category | Constitution) -> Span:
        """The first line of a block, for pointing at it without underlining all of it."""
        s = node.span
        return Span(
            path=s.path, line=s.line, column=s.column, end_line=s.line, end_column=s.column + 1
        )
