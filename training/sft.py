"""``caic train sft``: TRL SFTTrainer with a LoRA adapter on SL-CAI revisions.

The loss covers assistant turns only, so the model learns the constitution-guided revisions
and not the red-team prompts. TRL does that with ``assistant_only_loss``, which needs a chat
template with ``{% generation %}`` markers; SmolLM2's has none, so caic trains with an
equivalent template that has them (``smollm2_training.j2``; it renders byte-for-byte the
same) and saves the model's own template with the result. For a model with an unknown
template and no markers, each conversation is trained as prompt + final assistant turn
(TRL's completion-only loss), which is the same thing for SL-CAI data (one assistant turn).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from caic.errors import CaicError, usage_error
from caic.training import trainer as common
from caic.training import trainer_probes as probes
from caic.training.config import SFTRunConfig
from caic.training.modelcard import RunRecord
from caic.training.models import load_causal_lm, load_tokenizer, training_chat_template
from caic.training.trainer_data import sft_rows

log = logging.getLogger(__name__)


def _to_prompt_completion(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        prompt, completion = probes.split_sft(r)
        out.append({"prompt": prompt, "completion": completion})
    return out


def choose_template(
    cfg: SFTRunConfig, tok: Any, rows: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], bool]:
    """Set a marked training template on ``tok`` when needed; return rows and assistant_only."""
    if not cfg.assistant_only_loss or "messages" not in rows[0]:
        return rows, False
    if cfg.chat_template is not None:
        path = Path(cfg.chat_template)
        if not path.is_file():
            raise usage_error(f"chat_template not found: {path}", code="E004")
        text = path.read_text(encoding="utf-8")
        from trl.chat_template_utils import has_generation_markers

        if not has_generation_markers(text):
            raise usage_error(
                f"{path} has no {{% generation %}} markers, which assistant-only loss needs",
                code="E010",
            )
        tok.chat_template = text
        return rows, True
    try:
        template = training_chat_template(tok)
    except CaicError as e:
        log.warning("caic: %s; training on the final assistant turn of each conversation", e)
        return _to_prompt_completion(rows), False
    if template is not None:
        tok.chat_template = template
    return rows, True


def train_sft(ctx: common.Context) -> RunRecord | None:
    """Run SFT as ``ctx.cfg`` says; write the adapter, tokenizer, metrics and model card."""
    cfg = ctx.cfg
    assert isinstance(cfg, SFTRunConfig)
    rows, data_file = sft_rows(cfg.data, cfg.split)  # bad data fails before TRL is imported
    from trl import SFTConfig, SFTTrainer

    resume = common.start(ctx, [data_file])
    tok = load_tokenizer(ctx.base)
    original_template = tok.chat_template
    rows, assistant_only = choose_template(cfg, tok, rows)
    args = common.trl_args(
        SFTConfig,
        ctx,
        assistant_only_loss=assistant_only,
        dataset_num_proc=None,
        packing=False,
    )
    import transformers

    transformers.set_seed(cfg.seed)
    model = load_causal_lm(ctx.base, ctx.dtype)
    probe_rows = common.probe_slice(ctx, rows)
    probe: dict[str, Any] = {}
    if probe_rows:
        probe["nll_before"] = probes.sft_nll(model, tok, probe_rows)
    trainer = SFTTrainer(
        model=model, args=args, **common.trainer_inputs(ctx, tok, rows, "CAUSAL_LM")
    )
    hist = common.fit(trainer, resume)
    if probe_rows:
        probe["nll_after"] = probes.sft_nll(trainer.model, tok, probe_rows)
        probe["items"] = len(probe_rows)
    first, last = common.first_last(hist, "loss")
    summary = {"loss_first": first, "loss_last": last, "assistant_only_loss": assistant_only}
    if probe:
        summary.update({k: v for k, v in probe.items() if k.startswith("nll")})
    return common.finish(
        trainer, ctx, tok, summary=summary, probe=probe, tokenizer_template=original_template
    )
