"""``caic train rl``: GRPO or RLOO against the reward model ``caic train rm`` trained.

TRL 1.16 has no PPOTrainer; GRPOTrainer and RLOOTrainer take a sequence-classification model
as a reward function (``reward_funcs``) with its tokenizer (``reward_processing_classes``).
The reward model's LoRA adapter is merged into its base first, so TRL sees a plain
``PreTrainedModel``. The policy gets a fresh LoRA adapter (on a merged SFT model when
``model`` names an SFT run). Each step samples ``num_generations`` completions per prompt;
the per-device batch counts completions and must be a multiple of that.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from caic.errors import usage_error
from caic.training import trainer as common
from caic.training import trainer_probes as probes
from caic.training.config import RLRunConfig
from caic.training.modelcard import RunRecord
from caic.training.models import load_causal_lm, load_reward_model, load_tokenizer
from caic.training.trainer_data import DataFile, prompt_rows


def reward_model_file(spec: str) -> DataFile:
    """The reward model as an input of the run, hashed by its weight file."""
    from caic.io import sha256_file

    path = Path(spec)
    weights = next(
        (
            path / f
            for f in ("adapter_model.safetensors", "model.safetensors")
            if (path / f).is_file()
        ),
        None,
    )
    record = common.read_record(path) if path.is_dir() else None
    shas = [c.sha256 for c in record.constitutions] if record else []
    return DataFile(
        role="reward_model",
        path=spec,
        sha256=sha256_file(weights) if weights else None,
        constitution_sha256=shas,
    )


def train_rl(ctx: common.Context) -> RunRecord | None:
    """Optimise the policy against the reward model; write the adapter, metrics and card."""
    cfg = ctx.cfg
    assert isinstance(cfg, RLRunConfig)
    per_step = cfg.train.batch_size * cfg.train.grad_accum
    if per_step % cfg.num_generations:
        raise usage_error(
            f"train.batch_size x train.grad_accum ({per_step}) must be divisible by "
            f"num_generations ({cfg.num_generations})",
            code="E010",
            hint="each prompt's completions must land in one generation batch",
        )
    if not Path(cfg.reward_model).exists():
        raise usage_error(
            f"reward model not found: {cfg.reward_model}",
            code="E004",
            hint="train one with `caic train rm`, then set reward_model to its output_dir",
        )
    rows, prompts_file = prompt_rows(cfg.prompts, cfg.prompt_column, cfg.max_prompts)
    resume = common.start(ctx, [prompts_file, reward_model_file(cfg.reward_model)])
    import transformers  # after the input checks, so bad input fails fast

    if cfg.algorithm == "grpo":
        from trl import GRPOConfig as TRLConfig
        from trl import GRPOTrainer as TRLTrainer
    else:
        from trl import RLOOConfig as TRLConfig  # type: ignore[assignment]
        from trl import RLOOTrainer as TRLTrainer  # type: ignore[assignment]
    args = common.trl_args(
        TRLConfig,
        ctx,
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        beta=cfg.beta,
        log_completions=False,
    )
    tok = load_tokenizer(ctx.base)
    transformers.set_seed(cfg.seed)
    rm, rm_tok = load_reward_model(cfg.reward_model, ctx.dtype)
    policy = load_causal_lm(ctx.base, ctx.dtype)
    probe_prompts = [r["prompt"] for r in common.probe_slice(ctx, rows)]
    probe: dict[str, Any] = {}
    if probe_prompts:
        before = probes.greedy_reward(
            policy, tok, rm, rm_tok, probe_prompts, cfg.max_completion_length
        )
        probe["mean_reward_before"] = before["mean_reward"]
        probe["completions_before"] = before["completions"]
    trainer = TRLTrainer(
        model=policy,
        reward_funcs=rm,
        args=args,
        reward_processing_classes=rm_tok,
        **common.trainer_inputs(ctx, tok, rows, "CAUSAL_LM"),
    )
    hist = common.fit(trainer, resume)
    summary: dict[str, Any] = {"algorithm": cfg.algorithm}
    if probe_prompts:
        rm_device = next(policy.parameters()).device  # the policy's device after training
        after = probes.greedy_reward(
            trainer.model, tok, rm.to(rm_device), rm_tok, probe_prompts, cfg.max_completion_length
        )
        probe["mean_reward_after"] = after["mean_reward"]
        probe["completions_after"] = after["completions"]
        probe["items"] = len(probe_prompts)
        summary["probe_reward_before"] = probe["mean_reward_before"]
        summary["probe_reward_after"] = probe["mean_reward_after"]
    r0, r1 = common.first_last(hist, "reward")
    summary.update({"reward_first": r0, "reward_last": r1})
    extra = {"reward_model": cfg.reward_model}
    return common.finish(trainer, ctx, tok, summary=summary, probe=probe, extra=extra)
