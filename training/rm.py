"""``caic train rm``: a reward model on RLAIF labels, with soft labels kept.

An AI judge gives a probability, not a verdict: ``p_chosen`` = P(chosen is better). TRL's
RewardTrainer trains on hard pairs (``-log sigmoid(r_c - r_r)``); with ``soft_labels`` caic
trains the same Bradley-Terry model against the judge's probability with a cross-entropy on
soft targets::

    loss = -[p * log sigmoid(r_c - r_r) + (1 - p) * log sigmoid(r_r - r_c)]

which is minimised at sigmoid(r_c - r_r) = p: a 0.55 label asks for a small margin, a 0.95
label for a large one, and the judge's uncertainty survives into the rewards. With p = 1 it
is exactly TRL's loss. Done as a RewardTrainer subclass: the collator carries ``p_chosen``
alongside the token ids and ``compute_loss`` swaps the loss, keeping TRL's metrics.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from caic.training import trainer as common
from caic.training import trainer_probes as probes
from caic.training.config import RMRunConfig
from caic.training.modelcard import RunRecord
from caic.training.models import load_causal_lm, load_tokenizer

if TYPE_CHECKING:
    import torch


def _log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def soft_bt_loss_value(margin: float, p: float) -> float:
    """The soft-label Bradley-Terry loss of one pair, in plain floats (for checks and probes)."""
    return -(p * _log_sigmoid(margin) + (1.0 - p) * _log_sigmoid(-margin))


def soft_bt_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Mean soft-label Bradley-Terry loss over a batch (numerically stable log-sigmoids)."""
    import torch.nn.functional as F

    d = r_chosen - r_rejected
    p = p.to(d.dtype)
    return -(p * F.logsigmoid(d) + (1.0 - p) * F.logsigmoid(-d)).mean()


def _trainer_classes() -> tuple[type, type]:
    """Build the collator and trainer subclasses (TRL is imported only when training)."""
    import torch
    from trl import RewardTrainer
    from trl.trainer.reward_trainer import DataCollatorForPreference

    @dataclass
    class SoftPreferenceCollator(DataCollatorForPreference):  # type: ignore[misc]
        """TRL's preference collator, plus a ``p_chosen`` tensor when the rows have one."""

        def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
            out: dict[str, Any] = super().torch_call(examples)
            if "p_chosen" in examples[0]:
                out["p_chosen"] = torch.tensor([float(e["p_chosen"]) for e in examples])
            return out

    class SoftLabelRewardTrainer(RewardTrainer):  # type: ignore[misc]
        """RewardTrainer whose loss is the soft-label Bradley-Terry cross-entropy."""

        def _set_signature_columns_if_needed(self) -> None:
            super()._set_signature_columns_if_needed()
            columns: list[str] = list(self._signature_columns or [])
            if "p_chosen" not in columns:
                setattr(self, "_signature_columns", [*columns, "p_chosen"])  # noqa: B010

        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            p = inputs.pop("p_chosen", None)
            if p is None:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            # The parent runs the forward pass and logs reward/accuracy/margin metrics; the
            # loss it returns (hard labels) is replaced by the soft-label one on the same logits.
            _, outputs = super().compute_loss(model, inputs, True, num_items_in_batch)
            r_c, r_r = torch.chunk(outputs.logits.squeeze(-1), chunks=2)
            loss = soft_bt_loss(r_c, r_r, p.to(r_c.device))
            coef = getattr(self.args, "center_rewards_coefficient", None)
            if coef is not None:
                loss = loss + coef * torch.mean((r_c + r_r) ** 2)
            return (loss, outputs) if return_outputs else loss

    return SoftPreferenceCollator, SoftLabelRewardTrainer


def load_classifier_base(ctx: common.Context) -> Any:
    """A one-label sequence classifier on the base model (a caic adapter is merged first)."""
    from transformers import AutoModelForSequenceClassification

    source = ctx.base.source
    tmp = None
    if ctx.base.adapter is not None:
        # The adapter was trained on a causal LM: merge it there, then read the merged
        # weights back as a classifier (the new score head is initialised from the seed).
        tmp = ctx.out / ".merged-base"
        load_causal_lm(ctx.base, ctx.dtype).save_pretrained(str(tmp))
        source = str(tmp)
    from trl.trainer.reward_trainer import suppress_seqcls_warning

    with suppress_seqcls_warning():
        model = AutoModelForSequenceClassification.from_pretrained(
            source, num_labels=1, dtype=ctx.dtype
        )
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
    return model


def train_rm(ctx: common.Context) -> RunRecord | None:
    """Train the reward model ``ctx.cfg`` describes; write adapter (+ score head), card, metrics."""
    cfg = ctx.cfg
    assert isinstance(cfg, RMRunConfig)
    who = "`caic train rm` with soft_labels" if cfg.soft_labels else "`caic train rm`"
    rows, resume = common.start_on_preferences(
        ctx, who, need_p=cfg.soft_labels, orient=not cfg.soft_labels
    )
    import transformers
    from trl import RewardConfig

    args = common.trl_args(
        RewardConfig,
        ctx,
        center_rewards_coefficient=cfg.center_rewards_coefficient,
        dataset_num_proc=None,
    )
    tok = load_tokenizer(ctx.base)
    transformers.set_seed(cfg.seed)  # the score head is initialised when the model loads
    model = load_classifier_base(ctx)
    model.config.pad_token_id = tok.pad_token_id
    probe_rows = common.probe_slice(ctx, rows)
    probe: dict[str, Any] = {}
    if probe_rows:
        probe["before"] = probes.reward_margin(model, tok, probe_rows)
    collator_cls, trainer_cls = _trainer_classes()
    trainer = trainer_cls(
        model=model,
        args=args,
        data_collator=collator_cls(pad_token_id=tok.pad_token_id) if cfg.soft_labels else None,
        **common.trainer_inputs(ctx, tok, rows, "SEQ_CLS"),
    )
    hist = common.fit(trainer, resume)
    if probe_rows:
        probe["after"] = probes.reward_margin(trainer.model, tok, probe_rows)
        probe["items"] = len(probe_rows)
    loss0, loss1 = common.first_last(hist, "loss")
    m0, m1 = common.first_last(hist, "margin")
    summary: dict[str, Any] = {
        "soft_labels": cfg.soft_labels,
        "loss_first": loss0,
        "loss_last": loss1,
        "margin_first": m0,
        "margin_last": m1,
    }
    if probe:
        summary["probe_margin_before"] = probe["before"]["margin"]
        summary["probe_margin_after"] = probe["after"]["margin"]
    return common.finish(trainer, ctx, tok, summary=summary, probe=probe)
