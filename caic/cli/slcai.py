"""``caic sl-cai generate`` and ``caic sl-cai export``: SL-CAI data for supervised fine-tuning."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from caic.cli import app, usage

if TYPE_CHECKING:
    from rich.progress import Progress

sl_cai = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode="markdown",
    help="SL-CAI (stage 1): critique–revision traces and the SFT data set made from them.",
)
app.add_typer(sl_cai, name="sl-cai")


def _progress() -> Progress:
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
        """Prompts per second since this run started (resumed rows do not count)."""

        def render(self, task: Task) -> Text:
            done = task.completed - task.fields.get("resumed", 0)
            elapsed = task.elapsed or 0.0
            if done <= 0 or elapsed <= 0:
                return Text("-- prompts/s")
            return Text(f"{done / elapsed:.2f} prompts/s")

    return Progress(
        TextColumn("sl-cai"),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


def _say(text: str) -> None:
    typer.echo(text, err=True)


@sl_cai.command("generate")
def generate(
    constitution: Annotated[
        str,
        typer.Option("--constitution", "-c", help="A `.cai` file or a shipped name (hhh-v2, ...)."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output JSONL of traces.")],
    prompts: Annotated[
        str | None,
        typer.Option(
            "--prompts",
            help="Prompts: JSONL, CSV or a HF dataset id (default: the shipped red-team set).",
        ),
    ] = None,
    prompt_column: Annotated[
        str | None,
        typer.Option("--prompt-column", help="Column holding the prompt text (default: guessed)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Backend spec: transformers:PATH_OR_ID, openai:URL#MODEL, vllm:ID "
            "(default: the embedded SmolLM2-135M-Instruct).",
        ),
    ] = None,
    rounds: Annotated[
        int | None,
        typer.Option("--rounds", min=1, max=8, help="K critique rounds (default: settings)."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the draws (default: settings).")
    ] = None,
    max_new_tokens: Annotated[
        int, typer.Option("--max-new-tokens", min=1, help="Bound on each reply.")
    ] = 256,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Prompts generated together.")
    ] = 16,
    temperature: Annotated[
        float, typer.Option("--temperature", min=0.0, help="0 = greedy (reproducible).")
    ] = 0.0,
    top_p: Annotated[float, typer.Option("--top-p", min=0.0, max=1.0)] = 1.0,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the first N prompts.")
    ] = None,
) -> None:
    """Write one critique–revision trace per prompt to `--out` (JSONL).

    Each prompt is answered; then, K times, the model critiques its latest answer against
    the principle the compiled jobs drew for it (with the constitution's few-shot examples
    and templates) and revises it. Prompts go through each step in batches of
    `--batch-size`, and each batch's rows are appended and flushed when it finishes.

    **Resuming**: rerun the same command after an interruption (even `kill -9`) and only
    the missing prompts are generated. A run whose constitution, model, seed, rounds,
    sampling, prompts or `--limit` differ from the file's is refused. `--batch-size` may
    change between runs.

    **Long prompts** are skipped and counted, not truncated (a truncated prompt would put
    text in the SFT data the model never saw): a prompt is kept when its longest
    conversation (few-shot turns, critique and revision requests, and three replies of
    `--max-new-tokens`) fits the model's context window. Skipped prompt ids are listed on
    stderr and are not written.

    Progress goes to stderr; stdout gets only the output path.

    Example: `caic sl-cai generate -c hhh-v2 --limit 8 --rounds 1 --out sl.jsonl`
    """
    from caic.backends.base import SamplingParams
    from caic.compiler.data import load_prompts
    from caic.constitution_lang import load
    from caic.constitutions import find
    from caic.io import dumps_json, sha256_bytes, sha256_file
    from caic.resumable import ResumableJsonl
    from caic.training import slcai

    c = load(find(constitution))
    source = prompts or str(slcai.default_prompts_path())
    rows = load_prompts(source, prompt_column)
    if limit is not None:
        rows = rows[:limit]
    if not rows:
        raise usage(f"no prompts in {source}")
    if Path(source).is_file():
        prompts_sha = sha256_file(source)
    else:  # a HF dataset: hash what was read
        prompts_sha = sha256_bytes("\n".join(dumps_json(r) for r in rows).encode())
    rounds = c.settings.critique_rounds if rounds is None else rounds
    seed = c.settings.seed if seed is None else seed
    params = SamplingParams(temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens)
    plan = slcai.CritiquePlan(c)
    jobs = slcai.make_jobs(c, rows, rounds, seed)
    spec = model or "default"
    fp = slcai.fingerprint(
        c,
        model=spec,
        seed=seed,
        rounds=rounds,
        params=params,
        prompts_sha256=prompts_sha,
        prompt_column=prompt_column,
        limit=limit,
    )
    t0 = time.perf_counter()
    with ResumableJsonl(out, fp, key="id") as sink:
        todo = [j for j in jobs if j["id"] not in sink.done]
        already = len(jobs) - len(todo)
        if not todo:
            _say(f"{out}: all {len(jobs)} prompts already done")
            typer.echo(str(out))
            return
        if already:
            _say(f"{out}: resuming, {already} of {len(jobs)} prompts already done")
        written, skipped = _run(plan, c, todo, already, model, spec, params, seed, batch_size, sink)
    if skipped:
        shown = ", ".join(skipped[:5]) + (", ..." if len(skipped) > 5 else "")
        _say(f"skipped {len(skipped)} prompt(s) longer than the context window: {shown}")
    _say(f"wrote {written} trace(s) to {out} in {time.perf_counter() - t0:.1f} s")
    typer.echo(str(out))


def _run(
    plan: Any,
    c: Any,
    todo: list[dict[str, Any]],
    already: int,
    model: str | None,
    spec: str,
    params: Any,
    seed: int,
    batch_size: int,
    sink: Any,
) -> tuple[int, list[str]]:
    """Load the backend, drop prompts too long for it, generate with a progress bar."""
    from caic.backends.registry import get_backend, parse_spec
    from caic.training import slcai

    kw: dict[str, Any] = {}
    if parse_spec(model).kind == "transformers":
        kw["batch_size"] = batch_size  # one forward batch per chunk
    _say(f"loading model {spec} ...")
    with get_backend(model, **kw) as backend:
        todo, skipped = slcai.context_filter(plan, todo, backend, params)
        written = 0
        with _progress() as bar:
            task = bar.add_task(
                "sl-cai", total=already + len(todo), completed=already, resumed=already
            )
            for rows in slcai.generate_rows(
                c,
                todo,
                backend,
                params,
                seed=seed,
                batch_size=batch_size,
                backend_spec=spec,
                plan=plan,
            ):
                sink.append(rows)
                written += len(rows)
                bar.advance(task, len(rows))
    return written, skipped


@sl_cai.command("export")
def export(
    in_: Annotated[Path, typer.Option("--in", "-i", help="Traces from `sl-cai generate`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (or folder for hf).")],
    fmt: Annotated[
        str, typer.Option("--format", help="jsonl, or hf (a datasets.Dataset folder).")
    ] = "jsonl",
) -> None:
    """Write the TRL SFT data set (conversational `messages`) from SL-CAI traces.

    One row per trace: `messages` = the user prompt and the final revision, plus `id`,
    `category`, `principles`, `constitution_sha256`, `constitution`, `model`, `seed`,
    `schema_version` and `caic_version`. Traces with an empty final response are skipped
    and counted. The output appears whole or not at all.

    Example: `caic sl-cai export --in sl.jsonl --out sft.jsonl`
    """
    from caic.io import atomic_dir, atomic_write, dumps_json, read_jsonl
    from caic.training import slcai

    if fmt not in ("jsonl", "hf"):
        raise usage(f"unknown --format `{fmt}`", hint="one of jsonl, hf")
    rows, empty = slcai.sft_rows(read_jsonl(in_), str(in_))
    if not rows:
        raise usage(f"{in_} holds no usable traces")
    if fmt == "hf":
        import datasets

        with atomic_dir(out) as tmp:
            datasets.Dataset.from_list(rows).save_to_disk(str(tmp))
    else:
        with atomic_write(out) as f:
            for r in rows:
                f.write(dumps_json(r) + "\n")
    if empty:
        _say(f"skipped {len(empty)} trace(s) with an empty final response")
    _say(f"wrote {len(rows)} SFT row(s) to {out}")
    typer.echo(str(out))
