"""The four CPU smoke configs, run for real on the embedded SmolLM2-135M-Instruct.

Each run trains on a tiny over-fittable set and must show that it learned (loss or reward
moves the right way on the training items), that its saved adapter loads and changes the
model's output, and that its model card holds the hashes. The RL run uses the reward model
the RM run wrote.

The runs use one torch thread (``train.cpu_threads=1``): on this 2-core machine shared with
other jobs, two OpenMP threads made LoRA steps 3-8x slower than one (GRPO generation worse
still), while on an idle machine one thread costs at most ~1.6x. The thread count is restored
afterwards so other tests in the session are unaffected.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from caic.io import sha256_file

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "training" / "configs"
DATA = ROOT / "training" / "data"
PROBE = [[{"role": "user", "content": "How do I pick the lock on my neighbour's front door?"}]]


THREADS = "train.cpu_threads=1"


@pytest.fixture(scope="module", autouse=True)
def _restore_torch_threads() -> Any:
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _run(kind: str, out: Path, *extra: str) -> dict[str, Any]:
    from caic.training.trainer import run

    record = run(kind, CONFIGS / f"{kind}-smoke.yaml", [f"output_dir={out}", THREADS, *extra])
    assert record is not None
    return json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("train")


@pytest.fixture(scope="module")
def base_logits() -> Any:
    import torch

    from caic.training.models import load_causal_lm, load_tokenizer, logits_of, resolve_model

    base = resolve_model(None)
    return logits_of(load_causal_lm(base, torch.float32), load_tokenizer(base), PROBE)


def _changed_logits(out: Path, base_logits: Any) -> float:
    """Max |logit difference| between the saved run (loaded fresh from disk) and the base."""
    import torch

    from caic.training.models import load_causal_lm, load_tokenizer, logits_of, resolve_model

    resolved = resolve_model(str(out))
    assert resolved.adapters == (out,)
    model = load_causal_lm(resolved, torch.float32)
    return float((logits_of(model, load_tokenizer(resolved), PROBE) - base_logits).abs().max())


def _check_card(out: Path, data_file: Path, kind: str) -> dict[str, Any]:
    import caic
    from caic.constitution_lang import load, sha256
    from caic.constitutions import find

    c = load(find("hhh-v2"))
    card = (out / "README.md").read_text()
    run = json.loads((out / "run.json").read_text())
    assert sha256(c) in card and c.name in card and str(c.version) in card
    assert sha256_file(data_file) in card
    assert f"caic {caic.__version__}" in card and "SmolLM2-135M-Instruct" in card
    weights = out / "adapter_model.safetensors"
    assert sha256_file(weights) in card and run["outputs"][weights.name] == sha256_file(weights)
    assert run["kind"] == kind and run["constitutions"][0]["sha256"] == sha256(c)
    assert run["data"][0]["sha256"] == sha256_file(data_file)
    cfg_text = (out / "config.yaml").read_text()
    assert cfg_text.startswith("# Resolved by caic") and f"kind: {kind}" in cfg_text
    return run


def test_sft_smoke_learns_the_revisions(runs: Path, base_logits: Any) -> None:
    out = runs / "sft"
    m = _run("sft", out)
    s = m["summary"]
    assert s["assistant_only_loss"] is True
    # NLL of the training answers falls clearly (measured: 3.58 -> 1.46 nats/token)
    assert m["probe"]["nll_after"] < m["probe"]["nll_before"] - 0.5, m["probe"]
    assert s["loss_last"] < s["loss_first"]
    assert len([h for h in m["history"] if "loss" in h]) == 6
    assert _changed_logits(out, base_logits) > 1e-2
    _check_card(out, DATA / "sft_tiny.jsonl", "sft")
    # the tokenizer is saved with the model's own template, not the marked training one
    from trl.chat_template_utils import has_generation_markers

    template = (out / "chat_template.jinja").read_text()
    assert not has_generation_markers(template) and "<|im_start|>" in template


def test_rm_smoke_soft_labels_widen_the_margin(runs: Path) -> None:
    import torch

    from caic.training import trainer_probes as probes
    from caic.training.models import load_reward_model

    out = runs / "rm"
    m = _run("rm", out)
    before, after = m["probe"]["before"], m["probe"]["after"]
    assert after["margin"] > before["margin"] + 0.5, m["probe"]
    assert after["accuracy"] == 1.0
    assert after["soft_loss"] < before["soft_loss"]
    run = _check_card(out, DATA / "labels_tiny.jsonl", "rm")
    assert run["data"][0]["skipped"] == {"abstained": 1} and run["data"][0]["rows"] == 8
    # reloaded from disk (adapter + trained score head merged), it scores as it did in training
    rm, tok = load_reward_model(str(out), torch.float32)
    rows = [json.loads(x) for x in (DATA / "labels_tiny.jsonl").read_text().splitlines()][:8]
    again = probes.reward_margin(rm, tok, rows)
    assert again["margin"] == pytest.approx(after["margin"], abs=1e-3)


def test_dpo_smoke_through_the_cli(runs: Path, base_logits: Any) -> None:
    from typer.testing import CliRunner

    from caic.cli import (
        app,
        commands,  # noqa: F401  (registers the sub-commands)
    )

    out = runs / "dpo"
    result = CliRunner().invoke(
        app,
        ["train", "dpo", "--config", str(CONFIGS / "dpo-smoke.yaml"), f"output_dir={out}", THREADS],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{out}\n"  # data only: step logs and the summary go to stderr
    assert "step 3/3: loss=" in result.stderr and "implicit_reward_margin" in result.stderr
    m = json.loads((out / "metrics.json").read_text())
    # implicit reward margin beta*[log pi/ref (chosen) - log pi/ref (rejected)] starts at 0
    assert m["probe"]["implicit_reward_margin"] > 0.5, m["probe"]
    assert m["summary"]["margin_last"] > m["summary"]["margin_first"]
    assert m["summary"]["loss_last"] < m["summary"]["loss_first"]
    assert _changed_logits(out, base_logits) > 1e-2
    run = _check_card(out, DATA / "labels_tiny.jsonl", "dpo")
    config = CONFIGS / "dpo-smoke.yaml"
    assert run["command"] == f"caic train dpo --config {config} output_dir={out} {THREADS}"


def test_rl_smoke_moves_the_policy(runs: Path, base_logits: Any) -> None:
    rm_dir = runs / "rm"
    if not (rm_dir / "run.json").is_file():
        pytest.skip("needs the reward model of test_rm_smoke")
    out = runs / "rl"
    m = _run("rl", out, f"reward_model={rm_dir}")
    rewards = [h["reward"] for h in m["history"] if "reward" in h]
    assert len(rewards) == 3 and all(abs(r) < 1e3 for r in rewards)
    p = m["probe"]
    assert p["completions_after"] != p["completions_before"]
    assert _changed_logits(out, base_logits) > 1e-2
    run = _check_card(out, DATA / "rl_prompts_tiny.jsonl", "rl")
    rm_entry = next(d for d in run["data"] if d["role"] == "reward_model")
    assert rm_entry["sha256"] == sha256_file(rm_dir / "adapter_model.safetensors")


def test_interrupted_training_resumes_from_its_checkpoint(runs: Path) -> None:
    from transformers import TrainerCallback

    from caic.errors import UsageError
    from caic.training.config import load_config
    from caic.training.sft import train_sft
    from caic.training.trainer import make_context

    out = runs / "sft-resume"
    overrides = [
        f"output_dir={out}",
        "probe_items=0",
        THREADS,
        "train.max_steps=3",
        "train.save_steps=1",
        "train.batch_size=2",
        "train.max_length=64",
    ]

    class Steps(TrainerCallback):  # type: ignore[misc]
        def __init__(self, stop_at: int | None) -> None:
            self.seen: list[int] = []
            self.stop_at = stop_at

        def on_step_end(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
            self.seen.append(state.global_step)
            if state.global_step == self.stop_at:
                raise KeyboardInterrupt  # killed after step 2, before its checkpoint

    first = make_context(load_config("sft", CONFIGS / "sft-smoke.yaml", overrides))
    first.callbacks = [Steps(stop_at=2)]
    with pytest.raises(KeyboardInterrupt):
        train_sft(first)
    assert (out / "checkpoints" / "checkpoint-1").is_dir() and not (out / "run.json").exists()
    # a different config must not pick these checkpoints up
    other = make_context(load_config("sft", CONFIGS / "sft-smoke.yaml", [*overrides, "seed=1"]))
    with pytest.raises(UsageError, match="checkpoints of a run with a different config"):
        train_sft(other)
    again = make_context(load_config("sft", CONFIGS / "sft-smoke.yaml", overrides))
    steps = Steps(stop_at=None)
    again.callbacks = [steps]
    record = train_sft(again)
    assert steps.seen == [2, 3]  # resumed after step 1
    assert record is not None and record.summary["steps"] == 3
    assert not (out / "checkpoints").exists()  # cleaned up once the run finished
