"""The soft-label reward trainer, on a tiny randomly initialised model (seconds, no cache).

``caic train rm`` with ``soft_labels: true`` must train against ``p_chosen``; TRL's
RewardTrainer knows only hard pairs. These tests prove that ``p_chosen`` survives TRL's
dataset preparation and collation, reaches ``compute_loss``, and that the loss the trainer
optimises is the soft-target Bradley-Terry cross-entropy of the model's own rewards (and
TRL's hard loss when the column is absent). The real-model run is in test_train_smoke.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tiny_llama import tiny_llama_config

WORDS = ["q", "a", "b", "c", "d", "e", "f", "g", "h", "the", "answer", "is", "no", "yes"]


def _tokenizer() -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<pad>", "<eos>", *WORDS])}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<pad>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=tk, pad_token="<pad>", eos_token="<eos>", unk_token="<pad>"
    )


def _classifier(vocab: int) -> Any:
    import torch
    from transformers import LlamaForSequenceClassification

    torch.manual_seed(0)
    model = LlamaForSequenceClassification(
        tiny_llama_config(vocab, 16, 1, num_labels=1, pad_token_id=0)
    )
    with torch.no_grad():  # rewards of order 1, so soft and hard losses differ visibly
        model.score.weight.mul_(200.0)
    return model


ROWS: list[dict[str, Any]] = [
    {"prompt": "q a", "chosen": " the answer is no", "rejected": " yes b c", "p_chosen": 0.9},
    {"prompt": "q b", "chosen": " d e", "rejected": " f g h", "p_chosen": 0.6},
    {"prompt": "q c", "chosen": " no", "rejected": " yes yes", "p_chosen": 0.75},
    {"prompt": "q d", "chosen": " a b", "rejected": " c", "p_chosen": 0.55},
]


def _trainer(tmp_path: Path, rows: list[dict[str, Any]], soft: bool) -> Any:
    import datasets
    from trl import RewardConfig

    from caic.training.rm import _trainer_classes

    collator_cls, trainer_cls = _trainer_classes()
    tok = _tokenizer()
    args = RewardConfig(
        output_dir=str(tmp_path / "ckpt"),
        per_device_train_batch_size=4,
        max_steps=1,
        use_cpu=True,
        bf16=False,
        report_to="none",
        dataset_num_proc=None,
        disable_tqdm=True,
    )
    return trainer_cls(
        model=_classifier(len(tok)),
        args=args,
        data_collator=collator_cls(pad_token_id=tok.pad_token_id) if soft else None,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tok,
    )


def _rewards(trainer: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
    import torch

    with torch.no_grad():
        logits = trainer.model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).logits.squeeze(-1)
    r_c, r_r = torch.chunk(logits, 2)
    return r_c, r_r


def test_p_chosen_reaches_the_loss_and_the_loss_is_soft_bradley_terry(tmp_path: Path) -> None:
    import torch

    from caic.training.rm import soft_bt_loss

    trainer = _trainer(tmp_path, ROWS, soft=True)
    assert "p_chosen" in trainer.train_dataset.column_names  # kept through TRL's tokenising
    batch = next(iter(trainer.get_train_dataloader()))
    assert "p_chosen" in batch  # kept by the collator and the signature-column filter
    p = batch["p_chosen"]
    assert sorted(p.tolist()) == pytest.approx(sorted(float(r["p_chosen"]) for r in ROWS))
    trainer.model.eval()
    loss = trainer.compute_loss(trainer.model, dict(batch)).detach()
    r_c, r_r = _rewards(trainer, batch)
    assert float(loss) == pytest.approx(float(soft_bt_loss(r_c, r_r, p)), abs=1e-5)
    hard = float(-torch.nn.functional.logsigmoid(r_c - r_r).mean())
    assert abs(float(loss) - hard) > 1e-3  # the soft labels really change what is optimised
    # with every p = 1 the soft loss is exactly TRL's hard loss
    ones = {**batch, "p_chosen": torch.ones_like(p)}
    assert float(trainer.compute_loss(trainer.model, ones).detach()) == pytest.approx(
        hard, abs=1e-5
    )


def test_gradient_pushes_the_margin_towards_the_soft_label(tmp_path: Path) -> None:
    """d loss / d margin = sigmoid(margin) - p: a pair the model already over-prefers
    (sigmoid(margin) > p) is pushed back, which a hard loss never does."""
    import torch

    from caic.training.rm import soft_bt_loss

    trainer = _trainer(tmp_path, ROWS, soft=True)
    batch = next(iter(trainer.get_train_dataloader()))
    r_c, r_r = _rewards(trainer, batch)
    margin = (r_c - r_r).clone().requires_grad_(True)
    soft_bt_loss(margin, torch.zeros_like(margin), batch["p_chosen"]).backward()
    expected = (torch.sigmoid(margin.detach()) - batch["p_chosen"]) / len(margin)
    assert margin.grad is not None and torch.allclose(margin.grad, expected, atol=1e-6)


def test_without_p_chosen_the_trainer_is_trls(tmp_path: Path) -> None:
    import torch

    rows = [{k: v for k, v in r.items() if k != "p_chosen"} for r in ROWS]
    trainer = _trainer(tmp_path, rows, soft=False)
    batch = next(iter(trainer.get_train_dataloader()))
    assert "p_chosen" not in batch
    trainer.model.eval()
    loss = trainer.compute_loss(trainer.model, dict(batch)).detach()
    r_c, r_r = _rewards(trainer, batch)
    hard = float(-torch.nn.functional.logsigmoid(r_c - r_r).mean())
    assert float(loss) == pytest.approx(hard, abs=1e-5)
