"""``caic train sft|rm|dpo|rl`` and ``caic pipeline run``: training on TRL and PEFT."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from caic.cli import group

train_app = group(
    "train", "Train on SL-CAI and RLAIF data with TRL + PEFT (LoRA): sft, rm, dpo, rl."
)

pipeline_app = group(
    "pipeline", "Run the whole CAI pipeline from one YAML file, skipping finished stages."
)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config (see training/configs/*-smoke.yaml)."),
]
OverridesArg = Annotated[
    list[str] | None,
    typer.Argument(help="Overrides as dotted KEY=VALUE, e.g. train.max_steps=3 output_dir=runs/x."),
]


def _say(text: str) -> None:
    typer.echo(text, err=True)


def _run(kind: str, config: Path | None, overrides: list[str] | None) -> None:
    import shlex

    from caic.training.trainer import run

    parts = [
        "caic",
        "train",
        kind,
        *(["--config", str(config)] if config else []),
        *(overrides or []),
    ]
    command = shlex.join(parts)
    record = run(kind, config, overrides or [], command=command)
    if record is None:  # not the main process of a distributed run
        return
    from caic.training.config import load_config

    out = load_config(kind, config, overrides or []).output_dir
    for k, v in record.summary.items():
        if isinstance(v, float):
            _say(f"  {k}: {v:.4g}")
        elif v is not None:
            _say(f"  {k}: {v}")
    _say(f"wrote {kind} {'adapter' if record.adapter else 'model'} and model card to {out}")
    typer.echo(out)


@train_app.command("sft")
def sft(config: ConfigOpt = None, overrides: OverridesArg = None) -> None:
    """Supervised fine-tuning (LoRA by default) on `caic sl-cai export` data.

    Loss on assistant turns only. Writes the adapter (or model with `lora.enabled=false`),
    tokenizer, `config.yaml`, `metrics.json`, `run.json` and a model card (`README.md`) naming
    the constitution, the data sha256 and the base model to `output_dir`. Multi-GPU:
    `accelerate launch --config_file training/configs/accelerate-multi-gpu-zero3.yaml -m caic
    train sft --config training/configs/sft-gpu.yaml`.

    Example: `caic train sft --config training/configs/sft-smoke.yaml output_dir=runs/sft`
    """
    _run("sft", config, overrides)


@train_app.command("rm")
def rm(config: ConfigOpt = None, overrides: OverridesArg = None) -> None:
    """A reward model on `caic rlaif label` output (soft labels: cross-entropy on `p_chosen`).

    Abstentions are skipped. The output (LoRA adapter with its score head, or a full model)
    is what `caic train rl` takes as `reward_model`.

    Example: `caic train rm --config training/configs/rm-smoke.yaml`
    """
    _run("rm", config, overrides)


@train_app.command("dpo")
def dpo(config: ConfigOpt = None, overrides: OverridesArg = None) -> None:
    """DPO (LoRA by default) on `caic rlaif label` output; start from an SFT run with `model=`.

    Example: `caic train dpo --config training/configs/dpo-smoke.yaml model=runs/sft-smoke`
    """
    _run("dpo", config, overrides)


@train_app.command("rl")
def rl(config: ConfigOpt = None, overrides: OverridesArg = None) -> None:
    """GRPO or RLOO (`algorithm=rloo`) against a `caic train rm` reward model, LoRA policy.

    Example: `caic train rl --config training/configs/rl-smoke.yaml reward_model=runs/rm-smoke`
    """
    _run("rl", config, overrides)


@train_app.command("show")
def show(
    kind: Annotated[str, typer.Argument(help="sft, rm, dpo or rl.")],
    config: ConfigOpt = None,
    overrides: OverridesArg = None,
) -> None:
    """Print a config with every field, its value and why it is the default, as YAML.

    Without `--config` it prints the defaults; with one (and overrides) the resolved config.
    The output loads back unchanged, so it is a starting point for a new config file.

    Example: `caic train show rm > rm.yaml`
    """
    from caic.training.config import commented_yaml, load_config

    cfg = load_config(kind, config, overrides or [])
    header = (
        f"# caic train {kind} --config {kind}.yaml\n"
        f"# Every field of `caic train {kind}`"
        f"{f' as resolved from {config}' if config else ', at its default'}.\n"
    )
    typer.echo(commented_yaml(cfg, header), nl=False)


@pipeline_app.command("run")
def pipeline_run(
    file: Annotated[
        Path, typer.Argument(help="Pipeline YAML (see training/configs/pipeline-smoke.yaml).")
    ],
    overrides: OverridesArg = None,
    force: Annotated[
        list[str] | None,
        typer.Option("--force", help="Rerun this stage (and the ones after it) even if unchanged."),
    ] = None,
) -> None:
    """SL-CAI generation → export → SFT → pairs → labels → reward model → RL or DPO → eval.

    Each stage writes into the run directory and records a fingerprint of its inputs and
    outputs; a rerun skips stages whose fingerprints still match and resumes an interrupted
    one (generation and labelling continue their JSONL; training resumes from checkpoints).

    Example: `caic pipeline run training/configs/pipeline-smoke.yaml run_dir=runs/pipe`
    """
    from caic.training.pipeline import run_pipeline

    run_dir = run_pipeline(file, overrides or [], force=force or [], log=_say)
    typer.echo(str(run_dir))
