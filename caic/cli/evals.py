"""``caic eval`` (the four eval suites) and ``caic refusal classify``."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from caic.cli import app, usage

if TYPE_CHECKING:
    from caic.evals.run import Progress

refusal = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode="markdown",
    help="The three-way refusal classifier (full compliance, full refusal, partial refusal).",
)
app.add_typer(refusal, name="refusal")

JudgeOpt = Annotated[
    str | None,
    typer.Option("--judge", help="A model judge (backend spec) for refusal classes and harm."),
]


def _data_map(data: list[str], suites: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for d in data:
        name, sep, source = d.partition("=")
        if sep and name in ("harmlessness", "over-refusal", "sycophancy", "label-agreement"):
            out[name] = source
        elif len(suites) == 1:
            out[suites[0]] = d
        else:
            raise usage(
                f"--data {d!r}: with several suites, name the suite",
                hint="e.g. --data over-refusal=xstest_prompts.csv",
            )
    return out


def _progress_bar() -> tuple[Progress, Any]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    tasks: dict[str, TaskID] = {}
    starts: dict[str, tuple[float, int]] = {}

    def update(suite: str, done: int, total: int) -> None:
        # Items per second since this invocation started the suite (resumed items excluded);
        # rich's own speed needs several updates within 30 s, which slow batches do not give.
        now = time.perf_counter()
        if suite not in tasks:
            tasks[suite] = bar.add_task(suite, total=total, completed=done, rate="-- items/s")
            starts[suite] = (now, done)
            return
        t0, d0 = starts[suite]
        rate = f"{(done - d0) / (now - t0):.2f} items/s" if now > t0 and done > d0 else "--"
        bar.update(tasks[suite], completed=done, rate=rate)

    return update, bar


@app.command("eval")
def eval_(
    suite: Annotated[
        str,
        typer.Option(
            "--suite",
            help="Comma-separated: harmlessness, over-refusal, sycophancy, label-agreement.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The run directory.")],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Backend spec under test (default: the embedded SmolLM2-135M-Instruct).",
        ),
    ] = None,
    judge: JudgeOpt = None,
    data: Annotated[
        list[str],
        typer.Option(
            "--data",
            help="Data instead of the default set: FILE or HF id (one suite), or "
            "SUITE=FILE_OR_HF_ID; repeatable.",
        ),
    ] = [],  # noqa: B006 - typer needs a list default for repeatable options
    constitution: Annotated[
        str | None,
        typer.Option("--constitution", "-c", help="The constitution under test (.cai or name)."),
    ] = None,
    system_prompt: Annotated[
        bool,
        typer.Option(
            "--system-prompt",
            help="Render the constitution into the system message of the generating suites.",
        ),
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="At most N items per suite.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Subset, draws and intervals.")] = 0,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 16,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1)] = 256,
    fmt: Annotated[str, typer.Option("--format", help="human or json (the manifest).")] = "human",
) -> None:
    """Run eval suites on a model and write a run directory (samples.jsonl + manifest.json).

    Suites: **harmlessness** (harmful-compliance rate), **over-refusal** (refusals of safe
    prompts, XSTest scheme), **sycophancy** (flip rate after "Are you sure?", accuracy drop
    under a suggested wrong answer), **label-agreement** (the model as an RLAIF judge against
    known preferences: accuracy, kappa, position consistency, ECE, Brier). Every metric has
    a 95% interval and per-category values. **Resuming**: rerun the same command; finished
    items are skipped and the metrics are recomputed from samples.jsonl.

    Example: `caic eval --suite harmlessness,sycophancy -c hhh-v2 --system-prompt -o runs/v2`
    """
    from caic.evals.run import EvalConfig, run_eval

    if fmt not in ("human", "json"):
        raise usage(f"unknown --format `{fmt}`", hint="one of human, json")
    names = tuple(s.strip() for s in suite.split(",") if s.strip())
    if not names:
        raise usage("--suite names no suite")
    cfg = EvalConfig(
        suites=names,
        out=out,
        model=model,
        judge=judge,
        data=_data_map(data, names),
        constitution=constitution,
        system_prompt=system_prompt,
        limit=limit,
        seed=seed,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
    )
    update, bar = _progress_bar()
    with bar:
        manifest = run_eval(cfg, progress=update)
    if fmt == "json":
        typer.echo(json.dumps(manifest, indent=2, ensure_ascii=False))
        return
    typer.echo(summary(manifest))
    typer.echo(f"wrote {out}/manifest.json and {out}/samples.jsonl", err=True)


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


def _explained(rec: dict[str, Any], clauses: list[Any]) -> str:
    """One row for ``--explain``: id, class, probabilities, then the rules' clauses."""
    probs = rec.get("refusal_probs")
    how = (
        ", ".join(f"{k} {v:.3f}" for k, v in probs.items())
        if probs
        else "no model installed: the rules decide (no probabilities)"
    )
    lines = [f"{rec['id']}: {rec['refusal_class']}  ({how})"]
    lines.append(f"  rules: {rec['refusal_class_pattern']}")
    for c in clauses:
        text = c.text if len(c.text) <= 100 else c.text[:99] + "…"
        lines.append(f"    [{c.tag}] {text}")
    return "\n".join(lines)


@refusal.command("classify")
def classify_cmd(
    file: Annotated[str, typer.Argument(help="Completions: CSV, JSONL or a HF dataset id.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output JSONL.")],
    prompt_column: Annotated[str | None, typer.Option("--prompt-column")] = None,
    completion_column: Annotated[str | None, typer.Option("--completion-column")] = None,
    label_column: Annotated[
        str | None,
        typer.Option(
            "--label-column", help="Human labels to score against (auto: label, final_label)."
        ),
    ] = None,
    judge: JudgeOpt = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 16,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Print each row's class probabilities and the rules' clause tags (stderr).",
        ),
    ] = False,
) -> None:
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
    from caic.evals.instrument import instrument_id
    from caic.evals.loaders import load_completions
    from caic.evals.refusal import LABELS, analyse
    from caic.evals.refusal_model import card, classify_many, probs_dict
    from caic.resumable import ResumableJsonl
    from caic.rows import read_rows

    rows = load_completions(file, prompt_column, completion_column, label_column)
    _, sha = read_rows(file)
    fingerprint = {
        "source_sha256": sha,
        "judge": judge,
        "columns": [prompt_column, completion_column, label_column],
        "classifier": instrument_id(card()),
    }
    judge_backend = None
    with ResumableJsonl(out, fingerprint, key="id") as log:
        todo = [r for r in rows if r["id"] not in log.done]
        for k in range(0, len(todo), batch_size):
            chunk = todo[k : k + batch_size]
            judged: list[str | None] = [None] * len(chunk)
            if judge:
                from caic.backends.registry import get_backend
                from caic.evals.judge import judge_refusal

                judge_backend = judge_backend or get_backend(judge)
                judged = list(
                    judge_refusal(
                        judge_backend,
                        [r["prompt"] for r in chunk],
                        [r["completion"] for r in chunk],
                        batch_size,
                    )
                )
            got = classify_many([r["completion"] for r in chunk], [r["prompt"] for r in chunk])
            recs = []
            for i, (r, j) in enumerate(zip(chunk, judged, strict=True)):
                rec: dict[str, Any] = {
                    "id": r["id"],
                    "prompt": r["prompt"],
                    "completion": r["completion"],
                    "refusal_class": j or got.classes[i],
                }
                if got.probs is not None:
                    rec["refusal_probs"] = probs_dict(got.probs[i])
                rec["refusal_class_pattern"] = got.rules[i]
                if j:
                    rec["refusal_class_judge"] = j
                if r["label"]:
                    rec["label"] = r["label"]
                    rec["agrees"] = rec["refusal_class"] == r["label"]
                if explain:
                    typer.echo(_explained(rec, analyse(r["completion"], r["prompt"])), err=True)
                recs.append(rec)
            log.append(recs)
        written = log.rows()
    if judge_backend is not None:
        judge_backend.close()
    counts = Counter(r["refusal_class"] for r in written)
    typer.echo(
        f"{len(written)} completions: " + ", ".join(f"{lab} {counts[lab]}" for lab in LABELS),
        err=True,
    )
    labelled = [r for r in written if r.get("label")]
    if labelled:
        acc = sum(r["agrees"] for r in labelled) / len(labelled)
        typer.echo(f"agreement with the human labels: {acc:.1%} of {len(labelled)}", err=True)
    typer.echo(str(out))
    sys.stdout.flush()
