"""``caic report`` as a library call: :func:`report` compares eval run directories and
writes the report (HTML, Markdown or JSON), taking one config.

``caic report`` builds :class:`ReportConfig` from its arguments and options and calls
:func:`report`; Python callers do the same::

    from caic.evals.report.job import ReportConfig, report
    result = report(ReportConfig(runs=["runs/v1", "runs/v2"], out="report.html",
                                 fail_on=["over_refusal.full_refusal_rate.delta > 0.05"]))
    result.failed  # the gates that failed (the command exits 1)

The report itself is :func:`caic.evals.report.build_report`'s dict; its Markdown and HTML
forms are :mod:`caic.evals.report.render`'s.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from caic.config import Config
from caic.errors import usage_error

KINDS = {".html": "html", ".htm": "html", ".md": "md", ".json": "json"}
"""Report format by the suffix of ``--out``."""


class ReportConfig(Config):
    """``caic report``: compare eval runs against a baseline, with gates."""

    runs: list[Path]
    """Eval run directories (from `caic eval`)."""
    baseline: Path | None = None
    """The run to compare against (default: the first)."""
    out: Path | None = None
    """FILE.html, FILE.md or FILE.json (default: Markdown to stdout)."""
    fail_on: list[str] | None = None
    """Gate `METRIC OP NUMBER` or `METRIC.delta OP NUMBER` (OP: < <= > >= == !=); exit 1
    when it holds for any run. Repeatable."""
    seed: int = 0
    """Seed of the paired bootstrap."""
    resamples: int = Field(2000, ge=100)
    """Paired bootstrap resamples."""

    @field_validator("out")
    @classmethod
    def _known_suffix(cls, out: Path | None) -> Path | None:
        if out is not None and out.suffix.lower() not in KINDS:
            raise usage_error(
                f"unknown report format `{out.suffix}`", hint="use .html, .md or .json"
            )
        return out

    @property
    def kind(self) -> str:
        """``html``, ``md`` or ``json``: the format ``out`` names (``md`` without ``out``)."""
        return "md" if self.out is None else KINDS[self.out.suffix.lower()]


class GateResult(BaseModel):
    """One ``--fail-on`` gate on one run."""

    gate: str
    run: str
    """The run's label."""
    value: float | None
    """The metric (or its delta against the baseline); None when the run lacks it."""
    failed: bool
    """The gate's comparison holds."""
    note: str | None = None


class ReportResult(BaseModel):
    """What :func:`report` made."""

    out: Path | None
    """The file written; None when the report is ``text``."""
    text: str | None
    """The Markdown report when no ``out`` was given (nothing is written then)."""
    gates: list[GateResult]
    """Every gate on every run it applies to."""

    @property
    def failed(self) -> list[GateResult]:
        """The gates that failed."""
        return [g for g in self.gates if g.failed]


def report(cfg: ReportConfig) -> ReportResult:
    """Compare ``cfg.runs`` (plus ``cfg.baseline`` when it is not among them) and write the
    report to ``cfg.out`` atomically, or return it as Markdown text when there is no
    ``out``. An unknown metric or a malformed gate is a usage error, raised before any
    output."""
    from caic.evals import report as b
    from caic.io import write_text_atomic

    paths = list(cfg.runs)
    base_index = 0
    if cfg.baseline is not None:
        resolved = [p.resolve() for p in paths]
        if cfg.baseline.resolve() in resolved:
            base_index = resolved.index(cfg.baseline.resolve())
        else:
            paths.insert(0, cfg.baseline)
    labels = b.unique_labels(paths)
    loaded = [b.load_run(p, label) for p, label in zip(paths, labels, strict=True)]
    known: list[str] = []
    for r in loaded:
        known += [k for k in b.metric_table(r) if k not in known]
    gates = [b.parse_gate(e, sorted(known)) for e in cfg.fail_on or []]
    rep = b.build_report(loaded, loaded[base_index], seed=cfg.seed, resamples=cfg.resamples)
    rep["gates"] = b.evaluate_gates(rep, gates)

    if cfg.kind == "json":
        text = json.dumps(rep, indent=2, ensure_ascii=False) + "\n"
    elif cfg.kind == "html":
        from caic.evals.report.render import render_html

        text = render_html(rep)
    else:
        from caic.evals.report.render import render_markdown

        text = render_markdown(rep)
    if cfg.out is not None:
        write_text_atomic(cfg.out, text)
    return ReportResult(
        out=cfg.out,
        text=text if cfg.out is None else None,
        gates=[GateResult.model_validate(g) for g in rep["gates"]],
    )
