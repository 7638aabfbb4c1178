"""``caic diff`` (semantic constitution diff) and ``caic report`` (compare eval runs).

Each command is its job's config as arguments and options, and a call:
:func:`caic.compiler.diff_job.diff` and :func:`caic.evals.report.job.report`."""

from __future__ import annotations

import typer

from caic.cli import app
from caic.cli.options import config_command
from caic.cli.progress import say
from caic.compiler.diff_job import DiffConfig
from caic.evals.report.job import ReportConfig


@config_command(app, "diff", DiffConfig, arguments=("old", "new"))
def diff_(cfg: DiffConfig) -> None:
    """Semantic diff of two constitutions: what changed in meaning, not in formatting.

    Reports principles added, removed, renamed (matched by text similarity), reworded (with
    a word diff) and moved; weight and sampling-probability changes; priority, tension and
    settings changes; and which compiled prompts change. Comments, whitespace and the order
    of fields produce no change. `--format json` prints an object whose `changes` list is
    empty exactly when nothing of meaning changed. Exit 0 either way (a diff is
    information); 2 when a file cannot be read or does not check.

    Example: `caic diff cai-2022-harmless hhh-v2 --format md`
    """
    from caic.compiler.diff_job import diff

    typer.echo(diff(cfg).text, nl=False)


@config_command(app, "report", ReportConfig, arguments=("runs",), short={"out": "-o"})
def report_(cfg: ReportConfig) -> None:
    """Compare eval runs: metrics with intervals, deltas, paired tests, flips, diffs, gates.

    Reads only eval run directories (manifest.json + samples.jsonl). Deltas are against the
    baseline; the paired test joins samples by uid (exact McNemar for binary outcomes, paired
    bootstrap otherwise). When the runs name constitution files, their `caic diff` is
    included. Gates: `METRIC` is `suite.metric` as the JSON report names it; `.delta` gates
    apply to every non-baseline run, absolute ones to every run; an unknown metric is a
    usage error (exit 2). Exit 1 when a gate fails.

    Example: `caic report runs/v1 runs/v2 --out report.html --fail-on
    "over_refusal.full_refusal_rate.delta > 0.05"`
    """
    from caic.evals.report.job import report

    result = report(cfg)
    if result.text is not None:
        typer.echo(result.text, nl=False)
    else:
        say(f"wrote {result.out}")
    for g in result.failed:
        say(f"gate failed: {g.gate} on {g.run} (value {g.value:.4f})")
    if result.failed:
        raise typer.Exit(1)
