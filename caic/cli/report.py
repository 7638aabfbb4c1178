"""``caic diff`` (semantic constitution diff) and ``caic report`` (compare eval runs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from caic.cli import app, print_diagnostics, usage
from caic.errors import CaicError


@app.command("diff")
def diff_(
    old: Annotated[str, typer.Argument(help="The old constitution: a path or a shipped name.")],
    new: Annotated[str, typer.Argument(help="The new constitution: a path or a shipped name.")],
    fmt: Annotated[str, typer.Option("--format", help="human, json or md.")] = "human",
    threshold: Annotated[
        float,
        typer.Option(
            "--rename-threshold",
            min=0.0,
            max=1.0,
            help="Text similarity at which an unmatched removed/added pair counts as a rename.",
        ),
    ] = 0.6,
) -> None:
    """Semantic diff of two constitutions: what changed in meaning, not in formatting.

    Reports principles added, removed, renamed (matched by text similarity), reworded (with
    a word diff) and moved; weight and sampling-probability changes; priority, tension and
    settings changes; and which compiled prompts change. Comments, whitespace and the order
    of fields produce no change. `--format json` prints an object whose `changes` list is
    empty exactly when nothing of meaning changed. Exit 0 either way (a diff is
    information); 2 when a file cannot be read or does not check.

    Example: `caic diff cai-2022-harmless hhh-v2 --format md`
    """
    from caic.compiler.diff import diff
    from caic.compiler.diff_render import render_human, render_markdown
    from caic.constitution_lang import load
    from caic.constitutions import find

    if fmt not in ("human", "json", "md"):
        raise usage(f"unknown --format `{fmt}`", hint="one of human, json, md")
    loaded = []
    for arg in (old, new):
        path = find(arg)
        if not path.exists():
            raise usage(f"no such constitution: {arg}", hint="give a path or a shipped name")
        try:
            loaded.append(load(path))
        except CaicError as e:
            print_diagnostics(e.diagnostics)
            raise typer.Exit(2) from None
    d = diff(loaded[0], loaded[1], threshold)
    if fmt == "json":
        typer.echo(json.dumps(d.model_dump(mode="json"), indent=2, ensure_ascii=False))
    elif fmt == "md":
        typer.echo(render_markdown(d), nl=False)
    else:
        typer.echo(render_human(d), nl=False)


@app.command("report")
def report_(
    runs: Annotated[list[Path], typer.Argument(help="Eval run directories (from `caic eval`).")],
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="The run to compare against (default: the first)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="FILE.html, FILE.md or FILE.json (default: Markdown to stdout)."
        ),
    ] = None,
    fail_on: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-on",
            help="Gate `METRIC OP NUMBER` or `METRIC.delta OP NUMBER` (OP: < <= > >= == !=); "
            "exit 1 when it holds for any run. Repeatable.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the paired bootstrap.")] = 0,
    resamples: Annotated[
        int, typer.Option("--resamples", min=100, help="Paired bootstrap resamples.")
    ] = 2000,
) -> None:
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
    from caic.evals.report import (
        build_report,
        evaluate_gates,
        load_run,
        metric_table,
        parse_gate,
        unique_labels,
    )
    from caic.io import write_text_atomic

    kind = None
    if out is not None:
        kind = {".html": "html", ".htm": "html", ".md": "md", ".json": "json"}.get(
            out.suffix.lower()
        )
        if kind is None:
            raise usage(f"unknown report format `{out.suffix}`", hint="use .html, .md or .json")
    paths = list(runs)
    base_index = 0
    if baseline is not None:
        resolved = [p.resolve() for p in paths]
        if baseline.resolve() in resolved:
            base_index = resolved.index(baseline.resolve())
        else:
            paths.insert(0, baseline)
    labels = unique_labels(paths)
    loaded = [load_run(p, label) for p, label in zip(paths, labels, strict=True)]
    known: list[str] = []
    for r in loaded:
        known += [k for k in metric_table(r) if k not in known]
    gates = [parse_gate(e, sorted(known)) for e in fail_on or []]
    report = build_report(loaded, loaded[base_index], seed=seed, resamples=resamples)
    report["gates"] = evaluate_gates(report, gates)

    if kind == "json":
        text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    elif kind == "html":
        from caic.evals.report_render import render_html

        text = render_html(report)
    else:
        from caic.evals.report_render import render_markdown

        text = render_markdown(report)
    if out is None:
        typer.echo(text, nl=False)
    else:
        write_text_atomic(out, text)
        typer.echo(f"wrote {out}", err=True)
    failed = [g for g in report["gates"] if g["failed"]]
    for g in failed:
        typer.echo(f"gate failed: {g['gate']} on {g['run']} (value {g['value']:.4f})", err=True)
    if failed:
        raise typer.Exit(1)
