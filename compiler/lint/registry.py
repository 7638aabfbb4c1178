"""The lint rule registry: the check function behind each lint code of :mod:`caic.codes`.

A rule is a function ``check(ctx) -> Iterable[Diagnostic]`` registered with :func:`rule`
under a code of the code table, which owns its name, family, default severity and
lifecycle. Its docstring is the explanation ``caic explain`` prints; it must have an
``Anti-pattern:`` and a ``Best practice:`` section (sqlfluff's convention).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from caic.codes import CODES, Group, Lifecycle, lookup, resolve
from caic.errors import Diagnostic, Severity

if TYPE_CHECKING:
    from caic.compiler.lint.context import LintContext

Check = Callable[["LintContext"], Iterable[Diagnostic]]

_FAMILIES: tuple[Group, ...] = ("pairs", "phrasing", "coverage", "structure")
"""Modules of rules, imported (and so registered) on first use."""
STATIC_GROUPS = _FAMILIES
"""The code groups of the static rules (``probe`` codes come from ``caic lint --probe``)."""


@dataclass(frozen=True)
class Rule:
    """One lint rule."""

    code: str
    name: str
    severity: Severity
    check: Check
    family: str
    lifecycle: Lifecycle = "stable"

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.check.__doc__ or "")

    @property
    def summary(self) -> str:
        """First line of the docstring."""
        return self.doc.splitlines()[0] if self.doc else self.name


_RULES: dict[str, Rule] = {}


def rule(code: str) -> Callable[[Check], Check]:
    """Register ``check`` as the rule of ``code``, a lint code of :mod:`caic.codes` whose
    group is the module the function lives in."""

    def wrap(fn: Check) -> Check:
        entry = CODES.get(code)
        family = fn.__module__.rsplit(".", 1)[-1]
        if entry is None or entry.group != family:
            raise ValueError(f"lint rule {code} is not a `{family}` code of caic.codes")
        doc = fn.__doc__ or ""
        if "Anti-pattern" not in doc or "Best practice" not in doc:
            raise ValueError(f"rule {code} needs 'Anti-pattern' and 'Best practice' sections")
        if code in _RULES:
            raise ValueError(f"duplicate lint rule {code}")
        _RULES[code] = Rule(
            code=code,
            name=entry.name,
            severity=entry.severity,
            check=fn,
            family=family,
            lifecycle=entry.lifecycle,
        )
        return fn

    return wrap


def all_rules() -> list[Rule]:
    """Every registered rule, by code."""
    for fam in _FAMILIES:
        importlib.import_module(f"caic.compiler.lint.{fam}")
    return [_RULES[k] for k in sorted(_RULES)]


def get_rule(key: str) -> Rule | None:
    """A rule by code (any case) or by name."""
    entry = lookup(key)
    all_rules()  # registers them
    return _RULES.get(entry.code) if entry is not None else None


def resolve_keys(keys: Iterable[str], preview: bool = False) -> tuple[set[str], list[str]]:
    """Codes of the static rules for the given codes, names or code prefixes (``CAI1``);
    and the unknown keys. A prefix takes preview rules only with ``preview``."""
    return resolve(keys, preview=preview, groups=STATIC_GROUPS)


def rules_table() -> str:
    """The lines ``caic lint --list-rules`` prints: code, name, severity, summary and the
    lifecycle of a rule that is not stable."""
    lines = []
    for r in all_rules():
        tag = "" if r.lifecycle == "stable" else f" [{r.lifecycle}]"
        lines.append(f"{r.code}  {r.name:<28} {r.severity:<8} {r.summary}{tag}")
    return "\n".join(lines)


def explain_rule(key: str) -> str | None:
    """The text ``caic explain`` prints for a rule code or name; ``None`` if unknown."""
    r = get_rule(key)
    if r is None:
        return None
    return f"{r.code} {r.name} (default severity: {r.severity})\n\n{r.doc}"
