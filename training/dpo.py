"""``caic train dpo``: TRL DPOTrainer on RLAIF labels, LoRA by default.

Each labelled pair is oriented so ``chosen`` is the response the judge preferred (a row with
``p_chosen`` below 0.5 is swapped), abstentions are skipped, and pairs the judge could barely
tell apart can be dropped with ``min_confidence``. With LoRA the reference model is the
starting model with the adapter switched off (no second copy in memory); with full
fine-tuning a second copy of the starting model is loaded as the reference, so DPO after SFT
regularises towards the SFT model and not towards the model under it.
"""

from __future__ import annotations

from typing import Any

from caic.training import trainer as common
from caic.training import trainer_probes as probes
from caic.training.config import DPORunConfig
from caic.training.modelcard import RunRecord
from caic.training.models import load_causal_lm, load_tokenizer


def train_dpo(ctx: common.Context) -> RunRecord | None:
    """Run DPO as ``ctx.cfg`` says; write the adapter (or model), metrics and model card."""
    cfg = ctx.cfg
    assert isinstance(cfg, DPORunConfig)
    rows, resume = common.start_on_preferences(
        ctx, "`caic train dpo`", need_p=False, orient=True, min_confidence=cfg.min_confidence
    )
    import transformers
    from trl import DPOConfig, DPOTrainer

    args = common.trl_args(
        DPOConfig,
        ctx,
        beta=cfg.beta,
        loss_type=[cfg.loss_type],
        label_smoothing=cfg.label_smoothing,
        dataset_num_proc=None,
    )
    tok = load_tokenizer(ctx.base)
    transformers.set_seed(cfg.seed)
    model = load_causal_lm(ctx.base, ctx.dtype)
    ref = None if cfg.lora.enabled else load_causal_lm(ctx.base, ctx.dtype)
    probe_rows = common.probe_slice(ctx, rows)
    probe: dict[str, Any] = {}
    if probe_rows:
        probe["logp_margin_before"] = probes.policy_margin(model, tok, probe_rows)
    trainer = DPOTrainer(
        model=model, ref_model=ref, args=args, **common.trainer_inputs(ctx, tok, rows, "CAUSAL_LM")
    )
    hist = common.fit(trainer, resume)
    summary: dict[str, Any] = {}
    if probe_rows:
        after = probes.policy_margin(trainer.model, tok, probe_rows)
        probe["logp_margin_after"] = after
        # The reference is the starting policy, so beta * (after - before) is the mean of DPO's
        # implicit reward margin beta * [log pi/pi_ref (chosen) - log pi/pi_ref (rejected)].
        probe["implicit_reward_margin"] = cfg.beta * (after - probe["logp_margin_before"])
        probe["items"] = len(probe_rows)
        summary["implicit_reward_margin"] = probe["implicit_reward_margin"]
    loss0, loss1 = common.first_last(hist, "loss")
    m0, m1 = common.first_last(hist, "rewards/margins")
    summary = {
        "loss_first": loss0,
        "loss_last": loss1,
        "margin_first": m0,
        "margin_last": m1,
        **summary,
    }
    return common.finish(trainer, ctx, tok, summary=summary, probe=probe)
