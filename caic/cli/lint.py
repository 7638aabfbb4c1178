"""``caic lint``: contradictions, duplicates and the authoring rules.

The command is the lint job's config (:class:`caic.training.lint_job.LintJobConfig`) as
options, a call of :func:`~caic.training.lint_job.lint_job`, and the result printed in the
format asked for (:mod:`caic.compiler.lint.output`).
"""

from __future__ import annotations

import typer

from caic.cli import app, print_diagnostics
from caic.cli.options import config_command
from caic.cli.progress import say
from caic.training.lint_job import LintJobConfig


def _say(text: str) -> None:
    say(f"caic lint: {text}")


@config_command(
    app, "lint", LintJobConfig, flags={"preview": ["--preview/--no-preview"]}, arguments=("files",)
)
def lint(cfg: LintJobConfig) -> None:
    """Lint constitutions: contradictions, near-duplicates and authoring mistakes.

    Configuration comes from `[tool.caic.lint]` in the nearest pyproject.toml above each
    file; silence one finding with `# caic: ignore[CODE]` on a line of the principle (or
    on the line the finding points at). Exit 0 when nothing at warning level or above is
    found, 1 when something is, 2 on usage or parse errors. `caic explain CODE` describes
    a rule. `--probe PAIRS` also runs every judge principle over the pairs with the judge
    model and reports principles whose votes anti-correlate (CAI901) or coincide (CAI902).

    Example: `caic lint constitutions/hhh-v2.cai --probe probe.jsonl --format json`
    """
    from caic.compiler.lint.output import render, summary
    from caic.compiler.lint.registry import rules_table
    from caic.training.lint_job import lint_job

    if cfg.list_rules:
        typer.echo(rules_table())
        return
    result = lint_job(cfg, say=_say)
    if cfg.format == "human":
        print_diagnostics(result.diagnostics)
        typer.echo(summary(result.diagnostics, result.files), err=True)
    else:
        text = render(result.diagnostics, cfg.format)
        if text:
            typer.echo(text)
    raise typer.Exit(result.exit_code)
