"""``caic train rl`` with GRPO and with RLOO, end to end on tiny randomly initialised models.

The real-model GRPO run is in test_train_smoke.py; this covers both algorithms in seconds:
a 2-layer Llama policy and a 1-label Llama classifier as the reward model, saved as folders
with a word-level tokenizer and ChatML template, trained through ``caic.training.trainer.run``
(the same path as ``caic train rl``). It checks that the reward model is the reward
function (TRL logs its reward under the reward model's name), that the policy's LoRA adapter
is saved and changes the policy, and that the card and run record name the reward model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tiny_llama import tiny_llama_config

from caic.io import sha256_file

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = ROOT / "training" / "data" / "rl_prompts_tiny.jsonl"
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _tokenizer(folder: Path) -> Any:
    import re

    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    text = PROMPTS.read_text(encoding="utf-8") + " system user assistant You are a helpful AI"
    words = sorted(set(re.findall(r"\w+|[^\w\s]", text)) - set(SPECIAL))
    vocab = {t: i for i, t in enumerate(SPECIAL + words)}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<|endoftext|>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
        additional_special_tokens=SPECIAL[1:],
    )
    tok.chat_template = (ROOT / "training" / "smollm2_training.j2").read_text(encoding="utf-8")
    tok.save_pretrained(folder)
    return tok


def _llama(vocab: int, **extra: Any) -> Any:
    return tiny_llama_config(
        vocab, 32, 2, max_position_embeddings=256, pad_token_id=2, eos_token_id=2, **extra
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(policy folder, reward-model folder), each with the tokenizer."""
    import torch
    from transformers import LlamaForCausalLM, LlamaForSequenceClassification

    root = tmp_path_factory.mktemp("tiny")
    policy, rm = root / "policy", root / "rm"
    tok = _tokenizer(policy)
    _tokenizer(rm)
    torch.manual_seed(0)
    LlamaForCausalLM(_llama(len(tok))).save_pretrained(policy)
    head = LlamaForSequenceClassification(_llama(len(tok), num_labels=1))
    with torch.no_grad():
        head.score.weight.mul_(50.0)  # rewards that differ between completions
    head.save_pretrained(rm)
    return policy, rm


@pytest.fixture(autouse=True)
def _restore_torch_threads() -> Any:
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("algorithm", ["grpo", "rloo"])
def test_rl_trains_against_the_reward_model(
    algorithm: str, tiny: tuple[Path, Path], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    import torch

    from caic.training.models import load_causal_lm, load_tokenizer, logits_of, resolve_model
    from caic.training.trainer import run

    policy, rm = tiny
    out = tmp_path / algorithm
    record = run(
        "rl",
        ROOT / "training" / "configs" / "rl-smoke.yaml",
        [
            f"model={policy}",
            f"reward_model={rm}",
            f"algorithm={algorithm}",
            f"output_dir={out}",
            "constitution=null",
            "train.max_steps=2",
            "train.learning_rate=0.05",
            "train.cpu_threads=1",
            "max_completion_length=6",
            "probe_items=2",
        ],
    )
    assert record is not None and record.summary["algorithm"] == algorithm
    # per-step logs go to stderr, compactly; stdout stays for data (caic train prints the folder)
    captured = capfd.readouterr()
    assert "'loss'" not in captured.out and "step" not in captured.out
    assert "step 2/2: loss=" in captured.err and " reward=" in captured.err
    metrics = json.loads((out / "metrics.json").read_text())
    logged = [h for h in metrics["history"] if "reward" in h]
    assert len(logged) == 2
    # TRL names each reward function's metric after it: the reward model's folder
    assert all(f"rewards/{rm.name}/mean" in h for h in logged), logged[0]
    assert "mean_reward_before" in metrics["probe"] and "mean_reward_after" in metrics["probe"]
    # the saved adapter, loaded fresh onto the base, changes the policy's output
    assert (out / "adapter_model.safetensors").is_file()
    conv = [[{"role": "user", "content": "How do I get into my ex's email account?"}]]
    base = resolve_model(str(policy))
    before = logits_of(load_causal_lm(base, torch.float32), load_tokenizer(base), conv)
    trained = resolve_model(str(out))
    assert trained.adapters == (out,)
    after = logits_of(load_causal_lm(trained, torch.float32), load_tokenizer(trained), conv)
    assert float((after - before).abs().max()) > 1e-4
    run_json = json.loads((out / "run.json").read_text())
    entry = next(d for d in run_json["data"] if d["role"] == "reward_model")
    assert entry["path"] == str(rm) and entry["sha256"] == sha256_file(rm / "model.safetensors")
    assert run_json["extra"]["reward_model"] == str(rm)
    card = (out / "README.md").read_text()
    assert sha256_file(rm / "model.safetensors") in card and sha256_file(PROMPTS) in card
