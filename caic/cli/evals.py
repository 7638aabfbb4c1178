"""``caic eval`` (the four eval suites) and ``caic refusal classify``.

Each command is its job's config as options, and a call: :func:`caic.evals.run.run_eval`
and :func:`caic.evals.classify_job.classify`."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from caic.cli import app, group
from caic.cli.options import config_command
from caic.cli.progress import progress_bar, say
from caic.evals.classify_job import ClassifyConfig
from caic.evals.eval_config import EvalConfig

refusal = group(
    "refusal", "The three-way refusal classifier (full compliance, full refusal, partial refusal)."
)


@config_command(
    app,
    "eval",
    EvalConfig,
    flags={"suites": ["--suite"]},
    short={"out": "-o", "model": "-m", "constitution": "-c"},
    read_as={"suites": str, "data": list[str] | None},
)
def eval_(cfg: EvalConfig) -> None:
    """Run eval suites on a model and write a run directory (samples.jsonl + manifest.json).

    Suites: **harmlessness** (harmful-compliance rate), **over-refusal** (refusals of safe
    prompts, XSTest scheme), **sycophancy** (flip rate after "Are you sure?", accuracy drop
    under a suggested wrong answer), **label-agreement** (the model as an RLAIF judge against
    known preferences: accuracy, kappa, position consistency, ECE, Brier). Every metric has
    a 95% interval and per-category values. **Resuming**: rerun the same command; finished
    items are skipped and the metrics are recomputed from samples.jsonl.

    Example: `caic eval --suite harmlessness,sycophancy -c hhh-v2 --system-prompt -o runs/v2`
    """
    from caic.evals.run import run_eval

    with progress_bar("items") as progress:
        manifest = run_eval(cfg, progress=progress)
    if cfg.format == "json":
        typer.echo(json.dumps(manifest, indent=2, ensure_ascii=False))
        return
    typer.echo(summary(manifest))
    say(f"wrote {cfg.out}/manifest.json and {cfg.out}/samples.jsonl")


def summary(manifest: dict[str, Any]) -> str:
    """The metrics of a manifest as a plain table."""
    lines = [
        f"model {manifest['model']}  seed {manifest['seed']}  {manifest['timing']['seconds']:.0f} s"
    ]
    for key, metrics in manifest["metrics"].items():
        n = next(iter(manifest["data"].values()))["n"]
        for suite, d in manifest["data"].items():
            if suite.replace("-", "_") == key:
                n = d["n"]
        lines.append(f"\n{key} (n={n})")
        for name, m in metrics.items():
            arrow = "↑" if m["higher_is_better"] else "↓"
            if m["value"] is None:
                lines.append(f"  {name:<24} {arrow}   --")
                continue
            ci = "" if m["ci_low"] is None else f"  [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"
            lines.append(f"  {name:<24} {arrow} {m['value']:.3f}{ci}  n={m['n']}")
    return "\n".join(lines)


@config_command(refusal, "classify", ClassifyConfig, arguments=("file",), short={"out": "-o"})
def classify_cmd(cfg: ClassifyConfig) -> None:
    """Label completions full_compliance, full_refusal or partial_refusal (XSTest classes).

    Writes `{id, prompt, completion, refusal_class, refusal_probs, refusal_class_pattern
    [, refusal_class_judge][, label, agrees]}` per row. The class is the default
    classifier's: the clause rules, chosen on held-out data over a fine-tuned MiniLM and
    the two combined (`CAIC_REFUSAL_MODEL=override` or `model` picks those; see
    `docs/benchmarks.md` for what each is worth). `refusal_probs`: the model's calibrated
    probabilities where it takes part; under the rules, how often each gold class stands
    behind the rules' class (their measured reliability). `refusal_class_pattern` is the
    rules' class either way. With `--judge` the model judge's class is the result. When the
    file has human labels (`label`, `final_label`, ...), prints the agreement. `--explain`
    prints (on stderr, beside the summary) per row the probabilities and the clauses the
    rules tagged.

    Example: `caic refusal classify completions.csv --completion-column output -o labels.jsonl`
    """
    from caic.evals.classify_job import classify

    result = classify(cfg, say=say)
    say(f"{result.total} completions: " + ", ".join(f"{k} {n}" for k, n in result.counts.items()))
    if result.agreement is not None:
        say(f"agreement with the human labels: {result.agreement:.1%} of {result.labelled}")
    typer.echo(str(result.out))
    sys.stdout.flush()
