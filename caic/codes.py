"""The one table of caic's codes, as ruff's code table is: every diagnostic and lint code,
with its name, group, default severity and lifecycle.

Everything that shows or selects a code reads this table: the lint rule registry (a rule
registers under a code that must be here, and takes its name and severity from here), the
``--select``/``--ignore`` keys and ``[tool.caic.lint]``, inline ``# caic: ignore[CODE]``,
the SARIF rule descriptors, ``caic explain`` and the language's diagnostics. A test checks
that every code the sources raise is in the table and every lint rule is registered.

Groups: ``input`` (files and data rows), ``usage`` (the command line), ``syntax`` and
``semantic`` (the ``.cai`` language), ``run`` (resumable outputs and reports), the lint
families ``pairs``, ``phrasing``, ``coverage``, ``structure``, and ``probe`` (the
behavioural checks of ``caic lint --probe``).

Lifecycle: ``stable`` rules run by default; ``preview`` rules only with ``--preview`` (or
``preview = true`` in ``[tool.caic.lint]``); ``deprecated`` rules still run and say so;
``removed`` codes are never reused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from caic.errors import Severity

Group = Literal[
    "internal",
    "input",
    "usage",
    "syntax",
    "semantic",
    "run",
    "pairs",
    "phrasing",
    "coverage",
    "structure",
    "probe",
]
Lifecycle = Literal["stable", "preview", "deprecated", "removed"]

LINT_GROUPS: tuple[Group, ...] = ("pairs", "phrasing", "coverage", "structure", "probe")
"""The groups ``caic lint`` selects from; ``probe`` runs only with ``--probe``."""


@dataclass(frozen=True)
class Code:
    """One row of the table."""

    code: str
    """Stable code: ``E0xx`` input and usage, ``E1xx`` language, ``E3xx`` runs and
    reports, ``CAI1xx``-``CAI4xx`` lint rules, ``CAI9xx`` behavioural probes."""
    name: str
    """Kebab-case name, accepted wherever a code is."""
    group: Group
    severity: Severity = "error"
    """Default severity (lint rules: before ``[tool.caic.lint.severity]``)."""
    lifecycle: Lifecycle = "stable"

    @property
    def is_lint(self) -> bool:
        return self.group in LINT_GROUPS


def _c(
    code: str,
    name: str,
    group: Group,
    severity: Severity = "error",
    lifecycle: Lifecycle = "stable",
) -> Code:
    return Code(code, name, group, severity, lifecycle)


TABLE: tuple[Code, ...] = (
    _c("E000", "internal", "internal"),
    _c("E001", "not-utf8", "input"),
    _c("E002", "empty-file", "input"),
    _c("E003", "file-too-large", "input"),
    _c("E004", "file-not-found", "input"),
    _c("E005", "malformed-data", "input"),
    _c("E006", "bad-data-row", "input"),
    _c("E007", "output-of-another-run", "run"),
    _c("E008", "bad-arguments", "usage"),
    _c("E010", "syntax-error", "syntax"),
    _c("E011", "unexpected-eof", "syntax"),
    _c("E020", "unknown-language-version", "syntax"),
    _c("E101", "duplicate-principle", "semantic"),
    _c("E102", "duplicate-category", "semantic"),
    _c("E103", "unknown-priority-category", "semantic"),
    _c("E104", "priority-cycle", "semantic"),
    _c("E105", "non-positive-weight", "semantic"),
    _c("E106", "unpaired-critique", "semantic"),
    _c("E107", "principle-without-text", "semantic"),
    _c("E108", "unknown-placeholder", "semantic"),
    _c("E109", "unknown-template", "semantic"),
    _c("E110", "extends-missing", "semantic"),
    _c("E111", "extends-cycle", "semantic"),
    _c("E112", "unknown-drop", "semantic"),
    _c("E113", "unknown-setting", "semantic"),
    _c("E114", "bad-setting", "semantic"),
    _c("E115", "unknown-tension-principle", "semantic"),
    _c("E116", "bad-prefer", "semantic"),
    _c("E117", "duplicate-field", "semantic"),
    _c("E118", "unknown-kind", "semantic"),
    _c("E119", "template-syntax-error", "semantic"),
    _c("E301", "not-a-run", "run"),
    _c("E302", "bad-sample", "run"),
    _c("E303", "bad-gate", "usage"),
    _c("E304", "unknown-gate-metric", "usage"),
    _c("CAI101", "contradiction", "pairs", "warning"),
    _c("CAI102", "near-duplicate", "pairs", "warning"),
    _c("CAI201", "absolute-judge", "phrasing", "warning"),
    _c("CAI202", "too-specific", "phrasing", "warning"),
    _c("CAI203", "jurisdiction-specific", "phrasing", "warning"),
    _c("CAI204", "critique-revision-mismatch", "phrasing", "warning"),
    _c("CAI301", "missing-helpfulness", "coverage", "warning"),
    _c("CAI302", "missing-jailbreak", "coverage", "warning"),
    _c("CAI303", "missing-sycophancy", "coverage", "warning"),
    _c("CAI304", "uncovered-hazard", "coverage", "warning"),
    _c("CAI401", "style-in-harm-category", "structure", "warning"),
    _c("CAI402", "skewed-weight", "structure", "warning"),
    _c("CAI403", "unordered-priority", "structure", "warning"),
    _c("CAI901", "conflict-in-practice", "probe", "warning"),
    _c("CAI902", "redundant-in-practice", "probe", "warning"),
)

CODES: dict[str, Code] = {c.code: c for c in TABLE}


def lookup(key: str) -> Code | None:
    """A row by code (any case) or by name."""
    k = key.strip()
    return CODES.get(k.upper()) or next((c for c in TABLE if c.name == k.lower()), None)


def lint_codes(*, preview: bool = False, groups: Iterable[Group] = LINT_GROUPS) -> list[Code]:
    """The lint codes that may run: stable and deprecated ones, and preview ones when
    ``preview`` is set; never removed ones."""
    wanted = set(groups)
    allowed = {"stable", "deprecated"} | ({"preview"} if preview else set())
    return [c for c in TABLE if c.group in wanted and c.lifecycle in allowed]


def resolve(
    keys: Iterable[str], *, preview: bool = False, groups: Iterable[Group] = LINT_GROUPS
) -> tuple[set[str], list[str]]:
    """The lint codes that ``--select``/``--ignore`` keys name (codes, names, code prefixes
    such as ``CAI1``, or ``ALL``), and the keys that name none."""
    rows = lint_codes(preview=preview, groups=groups)
    every = {c.code for c in lint_codes(preview=True, groups=groups)}
    codes: set[str] = set()
    unknown: list[str] = []
    for raw in keys:
        k = raw.strip()
        if not k:
            continue
        if k.upper() == "ALL":
            codes.update(c.code for c in rows)
            continue
        exact = lookup(k)
        if exact is not None and exact.code in every:
            codes.add(exact.code)  # named outright: a preview rule too
            continue
        hit = [c.code for c in rows if k.upper().startswith("CAI") and c.code.startswith(k.upper())]
        if hit:
            codes.update(hit)
        else:
            unknown.append(k)
    return codes, unknown
