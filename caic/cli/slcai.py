"""``caic sl-cai generate`` and ``caic sl-cai export``: SL-CAI data for supervised fine-tuning.

Each command is its job's config (:mod:`caic.training.slcai_job`) as options, and a call."""

from __future__ import annotations

import typer

from caic.cli import group
from caic.cli.options import config_command
from caic.cli.progress import progress_bar, say
from caic.training.slcai_job import ExportConfig, GenerateConfig

sl_cai = group(
    "sl-cai", "SL-CAI (stage 1): critique–revision traces and the SFT data set made from them."
)


@config_command(
    sl_cai, "generate", GenerateConfig, short={"constitution": "-c", "out": "-o", "model": "-m"}
)
def generate(cfg: GenerateConfig) -> None:
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
    from caic.training.slcai_job import generate as run

    with progress_bar("prompts") as progress:
        result = run(cfg, say=say, progress=progress)
    if result.skipped:
        shown = ", ".join(result.skipped[:5]) + (", ..." if len(result.skipped) > 5 else "")
        say(f"skipped {len(result.skipped)} prompt(s) longer than the context window: {shown}")
    if result.written or result.resumed < result.total:
        say(f"wrote {result.written} trace(s) to {result.out} in {result.seconds:.1f} s")
    typer.echo(str(result.out))


@config_command(sl_cai, "export", ExportConfig, flags={"in_": ["--in", "-i"]}, short={"out": "-o"})
def export(cfg: ExportConfig) -> None:
    """Write the TRL SFT data set (conversational `messages`) from SL-CAI traces.

    One row per trace: `messages` = the user prompt and the final revision, plus `id`,
    `category`, `principles`, `constitution_sha256`, `constitution`, `model`, `seed`,
    `schema_version` and `caic_version`. Traces with an empty final response are skipped
    and counted. The output appears whole or not at all.

    Example: `caic sl-cai export --in sl.jsonl --out sft.jsonl`
    """
    from caic.training.slcai_job import export as run

    result = run(cfg, say=say)
    say(f"wrote {result.rows} SFT row(s) to {result.out}")
    typer.echo(str(result.out))
