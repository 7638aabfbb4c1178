"""The lint rule registry: stable codes, kebab-case names, severities, explanations.

A rule is a function ``check(ctx) -> Iterable[Diagnostic]`` registered with :func:`rule`.
Its docstring is the explanation ``caic explain`` prints; it must have an
``Anti-pattern:`` and a ``Best practice:`` section (sqlfluff's convention). Codes are
stable: ``CAI1xx`` pair rules, ``CAI2xx`` phrasing, ``CAI3xx`` coverage, ``CAI4xx``
structure. Never reuse a retired code.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from caic.errors import Diagnostic, Severity

if TYPE_CHECKING:
    from caic.compiler.lint.context import LintContext

Check = Callable[["LintContext"], Iterable[Diagnostic]]

_FAMILIES = ("pairs", "phrasing", "coverage", "structure")
"""Modules of rules, imported (and so registered) on first use."""


@dataclass(frozen=True)
class Rule:
    """One lint rule."""

    code: str
    name: str
    severity: Severity
    check: Check
    family: str

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.check.__doc__ or "")

    @property
    def summary(self) -> str:
        """First line of the docstring."""
        return self.doc.splitlines()[0] if self.doc else self.name


_RULES: dict[str, Rule] = {}


def rule(code: str, name: str, severity: Severity) -> Callable[[Check], Check]:
    """Register ``check`` under ``code`` and ``name`` with a default ``severity``."""

    def wrap(fn: Check) -> Check:
        doc = fn.__doc__ or ""
        if "Anti-pattern" not in doc or "Best practice" not in doc:
            raise ValueError(f"rule {code} needs 'Anti-pattern' and 'Best practice' sections")
        if code in _RULES or any(r.name == name for r in _RULES.values()):
            raise ValueError(f"duplicate lint rule {code} {name}")
        family = fn.__module__.rsplit(".", 1)[-1]
        _RULES[code] = Rule(code=code, name=name, severity=severity, check=fn, family=family)
        return fn

    return wrap


def all_rules() -> list[Rule]:
    """Every registered rule, by code."""
    for fam in _FAMILIES:
        importlib.import_module(f"caic.compiler.lint.{fam}")
    return [_RULES[k] for k in sorted(_RULES)]


def get_rule(key: str) -> Rule | None:
    """A rule by code (any case) or by name."""
    rules = all_rules()
    k = key.strip()
    return next((r for r in rules if r.code == k.upper() or r.name == k.lower()), None)


def resolve_keys(keys: Iterable[str]) -> tuple[set[str], list[str]]:
    """Codes for the given codes, names or code prefixes (``CAI1``); and the unknown keys."""
    rules = all_rules()
    codes: set[str] = set()
    unknown: list[str] = []
    for raw in keys:
        k = raw.strip()
        if not k:
            continue
        if k.upper() == "ALL":
            codes.update(r.code for r in rules)
            continue
        hit = [
            r.code
            for r in rules
            if r.code == k.upper()
            or r.name == k.lower()
            or (k.upper().startswith("CAI") and r.code.startswith(k.upper()))
        ]
        if hit:
            codes.update(hit)
        else:
            unknown.append(k)
    return codes, unknown


def explain_rule(key: str) -> str | None:
    """The text ``caic explain`` prints for a rule code or name; ``None`` if unknown."""
    r = get_rule(key)
    if r is None:
        return None
    return f"{r.code} {r.name} (default severity: {r.severity})\n\n{r.doc}"
