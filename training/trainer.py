"""What every caic training run shares: settings → TRL config, outputs, resume, dispatch.

A run trains into ``output_dir`` and leaves there: the adapter (or full model), the tokenizer,
``config.yaml`` (the resolved config), ``metrics.json`` (the loss/reward history and a
before/after probe), ``run.json`` (the manifest, written last: its presence means the run
finished) and ``README.md`` (the model card). With ``train.save_steps`` set, checkpoints go to
``output_dir/checkpoints``; started again with the same config and data, an interrupted run
resumes from the newest one.

Under ``accelerate launch`` every process trains; only the main one writes the files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import caic
from caic.errors import usage_error
from caic.io import dumps_json, sha256_file, write_text_atomic
from caic.training.config import RunConfig, load_config, to_yaml
from caic.training.modelcard import (
    BaseModelRef,
    ConstitutionRef,
    RunRecord,
    render_card,
    resolve_constitutions,
)
from caic.training.models import ResolvedModel, resolve_model, select_device
from caic.training.trainer_data import DataFile

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

WEIGHT_FILES = ("adapter_model.safetensors", "model.safetensors")


@dataclass
class Context:
    """A run's resolved settings, shared by the trainer modules."""

    cfg: RunConfig
    out: Path
    device: str
    bf16: bool
    gradient_checkpointing: bool
    base: ResolvedModel
    command: str | None = None
    data: list[DataFile] = field(default_factory=list)
    constitutions: list[ConstitutionRef] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    callbacks: list[Any] = field(default_factory=list)
    """Extra ``transformers.TrainerCallback`` objects (benchmarks time steps with one)."""

    @property
    def dtype(self) -> torch.dtype:
        """Weights in bf16 when training in bf16 on a GPU (halves memory), else fp32."""
        import torch

        return torch.bfloat16 if self.bf16 and self.device == "cuda" else torch.float32


def make_context(cfg: RunConfig, command: str | None = None) -> Context:
    """Resolve device, precision and base model (weights are not loaded yet)."""
    import torch

    device = select_device(cfg.train.device)
    if cfg.train.cpu_threads is not None:
        torch.set_num_threads(cfg.train.cpu_threads)
    bf16 = cfg.train.bf16
    if bf16 is None:
        bf16 = device == "cuda" and torch.cuda.is_bf16_supported()
    if bf16 and device == "cpu":
        log.warning(
            "caic: bf16 on CPU is slower than fp32 here (STACK-NOTES); consider train.bf16=false"
        )
    ckpt = cfg.train.gradient_checkpointing
    if ckpt is None:
        ckpt = device == "cuda"
    base = resolve_model(cfg.model)
    return Context(cfg, Path(cfg.output_dir), device, bool(bf16), bool(ckpt), base, command)


def trl_args(config_cls: type, ctx: Context, **specific: Any) -> Any:
    """Build a TRL config (SFTConfig, RewardConfig ...) from caic's settings.

    ``specific`` sets trainer-only fields; ``cfg.trl`` (validated against the class's fields)
    overrides anything.
    """
    t = ctx.cfg.train
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(ctx.cfg.trl) - names)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], sorted(names), n=1)
        raise usage_error(
            f"`trl.{unknown[0]}` is not a field of TRL's {config_cls.__name__}",
            code="E010",
            hint=f"did you mean `{close[0]}`?" if close else None,
        )
    kw: dict[str, Any] = dict(
        output_dir=str(ctx.out / "checkpoints"),
        max_steps=t.max_steps,
        num_train_epochs=t.epochs,
        learning_rate=t.learning_rate,
        per_device_train_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        lr_scheduler_type=t.lr_scheduler,
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        logging_steps=t.logging_steps,
        logging_first_step=True,
        save_strategy="steps" if t.save_steps else "no",
        save_steps=t.save_steps or 500,
        save_total_limit=2,
        report_to="none",
        seed=ctx.cfg.seed,
        bf16=ctx.bf16,
        fp16=False,
        use_cpu=ctx.device == "cpu",
        dataloader_num_workers=t.num_workers,
        disable_tqdm=True,
    )
    # transformers 5 takes a warm-up ratio as a float warmup_steps (warmup_ratio is gone)
    kw["warmup_ratio" if "warmup_ratio" in names else "warmup_steps"] = t.warmup_ratio
    # transformers 5 renamed gradient_checkpointing (TRL still defaults the old name to True)
    ckpt_name = (
        "activation_checkpointing"
        if "activation_checkpointing" in names
        else "gradient_checkpointing"
    )
    kw[ckpt_name] = ctx.gradient_checkpointing
    if "max_length" in names:
        kw["max_length"] = t.max_length
    kw.update(specific)
    kw.update(ctx.cfg.trl)
    try:
        return config_cls(**kw)
    except (ValueError, TypeError) as e:
        raise usage_error(
            f"TRL rejected the settings: {str(e).splitlines()[0]}", code="E010"
        ) from None


def fingerprint(ctx: Context) -> str:
    """Hash of what decides a run's result: the config (less output_dir and thread count) and
    the data hashes."""
    cfg = ctx.cfg.model_dump(mode="json")
    cfg.pop("output_dir", None)
    cfg["train"].pop("cpu_threads", None)  # how fast, not what is computed
    data = [d.model_dump(mode="json") for d in ctx.data]
    return hashlib.sha256(dumps_json({"cfg": cfg, "data": data}).encode()).hexdigest()


def checkpoint_to_resume(ctx: Context) -> bool:
    """True when ``output_dir/checkpoints`` holds a checkpoint of this very run.

    A checkpoint from a run with another config or data is refused, not silently resumed.
    """
    ckpt = ctx.out / "checkpoints"
    stamp = ckpt / "caic-fingerprint.txt"
    fp = fingerprint(ctx)
    have = sorted(ckpt.glob("checkpoint-*")) if ckpt.is_dir() else []
    if have and stamp.is_file() and stamp.read_text().strip() != fp:
        raise usage_error(
            f"{ckpt} holds checkpoints of a run with a different config or data",
            code="E007",
            hint="use another output_dir, or delete the checkpoints folder to start over",
        )
    if ctx.cfg.train.save_steps:
        ckpt.mkdir(parents=True, exist_ok=True)
        write_text_atomic(stamp, fp + "\n")
    return bool(have) and stamp.is_file()


HEADLINE = (
    "loss",
    "reward",
    "reward_std",
    "margin",
    "accuracy",
    "rewards/margins",
    "rewards/accuracies",
    "mean_token_accuracy",
    "grad_norm",
    "learning_rate",
)
"""The log keys ``caic train`` prints per step (all of them are in ``metrics.json``)."""


def log_to_stderr(trainer: Any) -> None:
    """Print the trainer's per-step logs to stderr, one compact line per logging step.

    transformers prints them to stdout (``PrinterCallback``, used when tqdm is off), where caic
    keeps data only: ``caic train`` prints just the output folder there. The full history is
    in ``metrics.json``.
    """
    import sys

    from transformers.trainer_callback import PrinterCallback, TrainerCallback

    class StderrPrinter(TrainerCallback):  # type: ignore[misc]
        def on_log(self, args, state, control, logs=None, **kw):  # type: ignore[no-untyped-def]
            if not logs or not state.is_world_process_zero or "train_runtime" in logs:
                return
            shown = [
                f"{k}={logs[k]:.4g}" if isinstance(logs[k], float) else f"{k}={logs[k]}"
                for k in HEADLINE
                if isinstance(logs.get(k), int | float)
            ]
            print(
                f"  step {state.global_step}/{state.max_steps}: {' '.join(shown)}",
                file=sys.stderr,
                flush=True,
            )

    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(StderrPrinter())


def is_main_process(trainer: Any) -> bool:
    return bool(trainer.is_world_process_zero())


def history(trainer: Any) -> list[dict[str, Any]]:
    """The trainer's log history (one dict per logging step, plus the final summary)."""
    return [dict(h) for h in trainer.state.log_history]


def first_last(hist: list[dict[str, Any]], key: str) -> tuple[float | None, float | None]:
    vals = [float(h[key]) for h in hist if key in h and "train_runtime" not in h]
    return (vals[0], vals[-1]) if vals else (None, None)


def finish(
    trainer: Any,
    ctx: Context,
    tokenizer: Any,
    *,
    summary: dict[str, Any],
    probe: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    tokenizer_template: str | None = None,
) -> RunRecord | None:
    """Save weights (all processes), then tokenizer, config, metrics, run.json and card (main)."""
    out = ctx.out
    out.mkdir(parents=True, exist_ok=True)
    trainer.save_model(str(out))
    if not is_main_process(trainer):
        return None
    if tokenizer_template is not None:
        tokenizer.chat_template = (
            tokenizer_template  # the model's own template, not the training one
        )
    tokenizer.save_pretrained(str(out))
    header = (
        f"# Resolved by caic {caic.__version__}; rerun with:\n"
        f"# caic train {ctx.cfg.kind} --config {out / 'config.yaml'}\n"
    )
    write_text_atomic(out / "config.yaml", to_yaml(resolved_config(ctx.cfg), header))
    hist = history(trainer)
    final: dict[str, Any] = next((h for h in reversed(hist) if "train_runtime" in h), {})
    summary = {
        **summary,
        "steps": trainer.state.global_step,
        "train_runtime_s": final.get("train_runtime"),
        "train_samples_per_second": final.get("train_samples_per_second"),
    }
    metrics = {
        "schema_version": 1,
        "kind": ctx.cfg.kind,
        "caic_version": caic.__version__,
        "seed": ctx.cfg.seed,
        "constitution_sha256": [c.sha256 for c in ctx.constitutions],
        "summary": summary,
        "probe": probe or {},
        "history": hist,
    }
    write_text_atomic(out / "metrics.json", json.dumps(metrics, indent=2, default=float) + "\n")
    record = RunRecord(
        kind=ctx.cfg.kind,
        caic_version=caic.__version__,
        seed=ctx.cfg.seed,
        base_model=BaseModelRef(
            spec=ctx.base.spec,
            name=ctx.base.base_name or ctx.base.name,
            source=ctx.base.source,
            adapters=[str(a) for a in ctx.base.adapters],
        ),
        constitutions=ctx.constitutions,
        data=ctx.data,
        adapter=ctx.cfg.lora.enabled,
        outputs={f: sha256_file(out / f) for f in WEIGHT_FILES if (out / f).is_file()},
        versions=versions(),
        summary=summary,
        command=ctx.command,
        extra=extra or {},
    )
    card = render_card(record, resolved_config(ctx.cfg).model_dump(mode="json"))
    write_text_atomic(out / "README.md", card)
    write_text_atomic(out / "run.json", record.model_dump_json(indent=2) + "\n")
    for name in ("README.md", "config.yaml", "metrics.json", "run.json", *record.outputs):
        (out / name).chmod(0o644)  # atomic writes create private files; these are for sharing
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return record


def resolved_config(cfg: RunConfig) -> RunConfig:
    """The config with local model paths made absolute, so the output folder can be loaded
    as a base from anywhere (its adapter is merged onto exactly this model)."""
    updates: dict[str, Any] = {}
    for key in ("model", "reward_model"):
        value = getattr(cfg, key, None)
        if isinstance(value, str) and Path(value).expanduser().exists():
            updates[key] = str(Path(value).expanduser().resolve())
    return cfg.model_copy(update=updates) if updates else cfg


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for pkg in ("trl", "peft", "transformers", "torch", "accelerate"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[pkg] = md.version(pkg)
    return out


def distributed() -> bool:
    """True under ``accelerate launch`` with several processes (probes are skipped there)."""
    import os

    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def probe_slice(ctx: Context, rows: list[Any]) -> list[Any]:
    """The first ``probe_items`` rows the before/after probes use (none when distributed)."""
    return rows[: ctx.cfg.probe_items] if not distributed() else []


def start(ctx: Context, data: list[DataFile]) -> bool:
    """:func:`prepare` the run and say whether it resumes from a checkpoint (refusing the
    checkpoints of another run)."""
    prepare(ctx, data)
    return checkpoint_to_resume(ctx)


def start_on_preferences(
    ctx: Context, trainer: str, **kw: Any
) -> tuple[list[dict[str, Any]], bool]:
    """The preference rows of ``ctx.cfg.data`` (:func:`~caic.training.trainer_data.preference_rows`
    with ``kw``, abstentions skipped as the config says), then :func:`start`."""
    from caic.training.trainer_data import preference_rows

    skip = bool(getattr(ctx.cfg, "skip_abstained", True))
    rows, data_file = preference_rows(ctx.cfg.data, trainer=trainer, skip_abstained=skip, **kw)
    return rows, start(ctx, [data_file])


def trainer_inputs(ctx: Context, tok: Any, rows: list[dict[str, Any]], task: str) -> dict[str, Any]:
    """The keyword arguments every TRL trainer takes the same way: the data set, the
    tokenizer, the LoRA config (``task``: ``CAUSAL_LM`` or ``SEQ_CLS``) and the callbacks."""
    from caic.training.models import lora_config
    from caic.training.trainer_data import to_dataset

    cfg = ctx.cfg
    return {
        "train_dataset": to_dataset(rows),
        "processing_class": tok,
        "peft_config": lora_config(cfg.lora, task) if cfg.lora.enabled else None,
        "callbacks": ctx.callbacks or None,
    }


def fit(trainer: Any, resume: bool) -> list[dict[str, Any]]:
    """Train (from the last checkpoint when resuming) with the loss logged to stderr; the
    trainer's log history."""
    log_to_stderr(trainer)
    trainer.train(resume_from_checkpoint=True if resume else None)
    return list(trainer.state.log_history)


def prepare(ctx: Context, data: list[DataFile]) -> None:
    """Record the inputs, check the constitution, and clear a finished run's manifest."""
    ctx.data = data
    ctx.constitutions = resolve_constitutions(ctx.cfg.constitution, data)
    (ctx.out / "run.json").unlink(missing_ok=True)  # run.json reappears only when this run ends


def run(
    kind: str,
    config: str | Path | None,
    overrides: list[str] | None = None,
    command: str | None = None,
) -> RunRecord | None:
    """Load the ``kind`` config and run its trainer; the entry point of ``caic train``."""
    cfg = load_config(kind, config, overrides)
    return run_config(cfg, command)


def run_config(cfg: RunConfig, command: str | None = None) -> RunRecord | None:
    """Run an already-validated config."""
    import importlib

    kind = cfg.kind
    module = importlib.import_module(f"caic.training.{kind}")
    ctx = make_context(cfg, command)
    result: RunRecord | None = getattr(module, f"train_{kind}")(ctx)
    return result


def read_record(output_dir: str | Path) -> RunRecord | None:
    """The ``run.json`` of a finished run, or None when the run has not finished."""
    p = Path(output_dir) / "run.json"
    if not p.is_file():
        return None
    return RunRecord.model_validate_json(p.read_text(encoding="utf-8"))
