"""``caic rlaif pairs | label | audit | probe``: AI preference labels for stage 2 (RL-CAI)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from caic.cli import app, print_diagnostics, usage

if TYPE_CHECKING:
    from rich.progress import Progress

rlaif = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode="markdown",
    help="RLAIF (stage 2): sample response pairs, label them with an AI judge, audit the labels.",
)
app.add_typer(rlaif, name="rlaif")

ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Backend spec: transformers:PATH_OR_ID, openai:URL#MODEL, vllm:ID "
        "(default: the embedded SmolLM2-135M-Instruct).",
    ),
]
JudgeOpt = Annotated[
    str | None,
    typer.Option("--judge", help="Judge backend spec (default: the embedded SmolLM2-135M)."),
]
ConstitutionOpt = Annotated[
    str, typer.Option("--constitution", "-c", help="A `.cai` file or a shipped name (hhh-v2).")
]
LimitOpt = Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N rows.")]
FormatOpt = Annotated[str, typer.Option("--format", help="human or json.")]


def _say(text: str) -> None:
    typer.echo(text, err=True)


def _progress(unit: str) -> Progress:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"-- {unit}/s" if speed is None else f"{speed:.2f} {unit}/s")

    return Progress(
        TextColumn("rlaif"),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


def _source_sha(source: str, rows: list[dict[str, Any]]) -> str:
    from caic.io import dumps_json, sha256_bytes, sha256_file

    if Path(source).is_file():
        return sha256_file(source)
    return sha256_bytes("\n".join(dumps_json(r) for r in rows).encode())


def _check_format(fmt: str) -> None:
    if fmt not in ("human", "json"):
        raise usage(f"unknown --format `{fmt}`", hint="one of human, json")


@rlaif.command("pairs")
def pairs_cmd(
    prompts: Annotated[str, typer.Option("--prompts", help="Prompts: JSONL, CSV or a HF id.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output JSONL of response sets.")],
    model: ModelOpt = None,
    n: Annotated[int, typer.Option("--n", min=2, max=8, help="Completions per prompt.")] = 2,
    temperature: Annotated[
        float, typer.Option("--temperature", help="Sampling temperature (> 0).")
    ] = 1.0,
    top_p: Annotated[float, typer.Option("--top-p", min=0.0, max=1.0)] = 1.0,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1)] = 256,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sampling.")] = 0,
    limit: LimitOpt = None,
    prompt_column: Annotated[str | None, typer.Option("--prompt-column")] = None,
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", min=1, help="Prompts sampled (and written) together.")
    ] = 8,
) -> None:
    """Sample `--n` completions per prompt from a policy, for the judge to label.

    Writes `{id, prompt, response_a, response_b (, response_c ...), model, seed, ...}` per
    prompt. Prompts are sampled in chunks of `--chunk-size`, each with a seed derived from
    `--seed` and its index, and written as each chunk finishes. **Resuming**: rerun the
    same command and only missing prompts are sampled; a run with a different model, seed,
    sampling or prompts is refused. `--limit` may grow between runs.

    Example: `caic rlaif pairs --prompts prompts.jsonl --n 2 --temperature 0.9 --out pairs.jsonl`
    """
    from caic.backends.registry import get_backend
    from caic.compiler.data import load_prompts
    from caic.resumable import ResumableJsonl
    from caic.training.rlaif_pairs import sample_pairs

    if temperature <= 0:
        raise usage("--temperature must be above 0", hint="greedy decoding repeats one reply")
    rows = load_prompts(prompts, prompt_column)
    if limit is not None:
        rows = rows[:limit]
    if not rows:
        raise usage(f"no prompts in {prompts}")
    fp = {
        "command": "rlaif pairs",
        "prompts_sha256": _source_sha(prompts, rows),
        "prompt_column": prompt_column,
        "model": model or "default",
        "n": n,
        "temperature": temperature,
        "top_p": top_p,
        "max_new_tokens": max_new_tokens,
        "seed": seed,
        "chunk_size": chunk_size,
    }
    t0 = time.perf_counter()
    with ResumableJsonl(out, fp, key="id") as sink:
        already = sum(1 for r in rows if r["id"] in sink.done)
        if already == len(rows):
            _say(f"{out}: all {len(rows)} prompts already done")
            typer.echo(str(out))
            return
        if already:
            _say(f"{out}: resuming, {already} of {len(rows)} prompts already done")
        _say(f"loading model {model or 'default'} ...")
        with get_backend(model) as policy, _progress("prompts") as bar:
            task = bar.add_task("pairs", total=len(rows), completed=already)
            for chunk in sample_pairs(
                rows, policy, n=n, temperature=temperature, top_p=top_p,
                max_new_tokens=max_new_tokens, seed=seed, chunk_size=chunk_size,
                done=frozenset(sink.done),
            ):  # fmt: skip
                fresh = sum(1 for r in chunk if r["id"] not in sink.done)
                sink.append(chunk)
                bar.advance(task, fresh)
    _say(f"wrote {len(rows) - already} prompt(s) to {out} in {time.perf_counter() - t0:.1f} s")
    typer.echo(str(out))


def _unique_ids(rows: list[dict[str, Any]], source: str) -> None:
    """Labels are keyed by pair id (for resuming), so ids must be unique."""
    seen: set[str] = set()
    for r in rows:
        if r["id"] in seen:
            raise usage(f"duplicate pair id `{r['id']}` in {source}", hint="give each row an `id`")
        seen.add(r["id"])


def _principles_arg(value: str) -> str | int:
    if value in ("sample", "all"):
        return value
    try:
        k = int(value)
    except ValueError:
        k = 0
    if k < 1:
        raise usage(f"--principles must be sample, all or a positive number, got `{value}`")
    return k


@rlaif.command("label")
def label_cmd(
    constitution: ConstitutionOpt,
    pairs: Annotated[
        str,
        typer.Option(
            "--pairs",
            help="Pairs: `rlaif pairs` output, TRL preference rows, HH-RLHF (.gz), LLMBar.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output JSONL of labels.")],
    judge: JudgeOpt = None,
    principles: Annotated[
        str, typer.Option("--principles", help="sample (one draw), all, or N draws per pair.")
    ] = "sample",
    mode: Annotated[
        str | None,
        typer.Option("--mode", help="pairwise or pointwise (default: the constitution's)."),
    ] = None,
    cot: Annotated[
        bool | None,
        typer.Option("--cot/--no-cot", help="Reason before answering (default: constitution)."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the draws (default: settings).")
    ] = None,
    limit: LimitOpt = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Pairs per call.")] = 16,
    cot_max_new_tokens: Annotated[
        int, typer.Option("--cot-max-new-tokens", min=1, help="Bound on CoT reasoning.")
    ] = 256,
) -> None:
    """Label response pairs with an AI judge against the constitution's principles.

    Each output row is a TRL conversational preference row (`prompt`, `chosen`,
    `rejected`) plus the soft label `p_chosen`, the per-order estimates `p_forward` and
    `p_swapped`, `consistent`, the principles and their votes, the judge, the constitution
    sha256 and `gold` where the input has a human preference. A judge that picks neither
    option is recorded as `abstained: true` with no label. `--mode` and `--cot` default to
    the constitution's `judge` settings (pairwise without CoT unless it says otherwise).

    **Resuming**: rerun the same command and only missing pairs are judged; a run with a
    different constitution, judge, mode, principles, seed or pairs file is refused.

    Example: `caic rlaif label -c hhh-v2 --pairs pairs.jsonl --mode pointwise --out labels.jsonl`
    """
    from caic.backends.registry import get_backend
    from caic.constitution_lang import load, sha256
    from caic.constitutions import find
    from caic.resumable import ResumableJsonl
    from caic.training.rlaif import label_pairs
    from caic.training.rlaif_pairs import read_pairs

    c = load(find(constitution))
    how = _principles_arg(principles)
    mode = mode or c.settings.judge.mode
    if mode not in ("pairwise", "pointwise"):
        raise usage(f"unknown --mode `{mode}`", hint="pairwise or pointwise")
    if cot is None:
        cot = c.settings.judge.chain_of_thought and mode == "pairwise"
    seed = c.settings.seed if seed is None else seed
    rows = read_pairs(pairs)
    if limit is not None:
        rows = rows[:limit]
    if not rows:
        raise usage(f"no pairs in {pairs}")
    _unique_ids(rows, pairs)
    fp = {
        "command": "rlaif label",
        "constitution_sha256": sha256(c),
        "pairs_sha256": _source_sha(pairs, rows),
        "judge": judge or "default",
        "principles": how,
        "mode": mode,
        "cot": cot,
        "cot_max_new_tokens": cot_max_new_tokens if cot else None,
        "seed": seed,
    }
    t0 = time.perf_counter()
    counts = {"labelled": 0, "abstained": 0}
    with ResumableJsonl(out, fp, key="id") as sink:
        already = sum(1 for r in rows if r["id"] in sink.done)
        if already == len(rows):
            _say(f"{out}: all {len(rows)} pairs already labelled")
            typer.echo(str(out))
            return
        if already:
            _say(f"{out}: resuming, {already} of {len(rows)} pairs already labelled")
        _say(f"loading judge {judge or 'default'} ...")
        with get_backend(judge) as backend, _progress("pairs") as bar:
            task = bar.add_task("label", total=len(rows), completed=already)
            for row in label_pairs(
                c, rows, backend, mode=mode,  # type: ignore[arg-type]
                principles=how, cot=cot, seed=seed, batch_size=batch_size,
                skip=frozenset(sink.done), cot_max_new_tokens=cot_max_new_tokens,
            ):  # fmt: skip
                sink.append([row])
                counts["abstained" if row["abstained"] else "labelled"] += 1
                bar.advance(task, 1)
    _say(
        f"labelled {counts['labelled']} pair(s), {counts['abstained']} abstention(s), "
        f"into {out} in {time.perf_counter() - t0:.1f} s"
    )
    typer.echo(str(out))


@rlaif.command("audit")
def audit_cmd(
    labels: Annotated[Path, typer.Option("--labels", help="Labels from `rlaif label`.")],
    gold: Annotated[
        str | None,
        typer.Option(
            "--gold",
            help="Human preferences by id: `{id, gold: a|b}` rows, or any pair file "
            "with chosen/rejected (matched by response text).",
        ),
    ] = None,
    fmt: FormatOpt = "human",
) -> None:
    """Audit AI labels: position consistency, first-slot rate, length bias, abstentions,
    and, with gold labels, accuracy, Cohen's κ, ECE and Brier, overall and per principle.

    Gold comes from the labels' `gold` field (kept from the input pairs) or `--gold`.
    `--format json` prints the keys `position_consistency`, `first_slot_rate`,
    `length_bias`, `abstention_rate`, `accuracy`, `kappa`, `ece`, `brier`, `n`,
    `n_labelled`, `n_gold` and `per_principle`; a measure that cannot be computed is null.

    Example: `caic rlaif audit --labels labels.jsonl --format json`
    """
    from caic.training.audit import audit, gold_from_file, render_human
    from caic.training.rlaif import read_labels

    _check_format(fmt)
    rows = read_labels(str(labels), include_abstained=True)
    if not rows:
        raise usage(f"{labels} holds no label rows")
    gold_map = gold_from_file(gold, rows) if gold else None
    if gold and not gold_map:
        _say(f"warning: no label row matched a gold preference in {gold}")
    report = audit(rows, gold_map)
    if fmt == "json":
        typer.echo(json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        typer.echo(render_human(report))


@rlaif.command("probe")
def probe_cmd(
    constitution: ConstitutionOpt,
    pairs: Annotated[str, typer.Option("--pairs", help="Probe pairs (any `--pairs` format).")],
    judge: JudgeOpt = None,
    mode: Annotated[
        str | None,
        typer.Option("--mode", help="pairwise or pointwise (default: the constitution's)."),
    ] = None,
    limit: LimitOpt = None,
    fmt: FormatOpt = "human",
) -> None:
    """Behavioural lint: flag principle pairs whose votes conflict or coincide in practice.

    Every principle with a judge text labels every probe pair; pairs of principles whose
    votes anti-correlate (Pearson r <= -0.3) are reported as `conflict-in-practice`
    (CAI901) unless a `tension` declares them, and those with r >= 0.9 as
    `redundant-in-practice` (CAI902). Exit 1 when there are findings.

    Example: `caic rlaif probe -c hhh-v2 --pairs probe.jsonl --limit 20`
    """
    from caic.backends.registry import get_backend
    from caic.constitution_lang import load
    from caic.constitutions import find
    from caic.training.probe import probe_principles
    from caic.training.rlaif_pairs import read_pairs

    _check_format(fmt)
    c = load(find(constitution))
    if mode is not None and mode not in ("pairwise", "pointwise"):
        raise usage(f"unknown --mode `{mode}`", hint="pairwise or pointwise")
    rows = read_pairs(pairs)[:limit] if limit else read_pairs(pairs)
    if not rows:
        raise usage(f"no pairs in {pairs}")
    n_judge = sum(1 for p in c.principles if p.judge)
    _say(f"probing {n_judge} principles over {len(rows)} pairs with {judge or 'default'} ...")
    with get_backend(judge) as backend:
        diags = probe_principles(c, rows, backend, mode=mode)  # type: ignore[arg-type]
    print_diagnostics(diags, fmt)
    if fmt == "human":
        _say(f"{len(diags)} finding(s)")
    raise typer.Exit(1 if diags else 0)
