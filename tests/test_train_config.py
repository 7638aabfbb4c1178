"""Fast tests of the training configs, data checks, errors and the soft-label loss maths."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from caic.errors import CaicError, UsageError
from caic.training.config import (
    CONFIG_CLASSES,
    SFTRunConfig,
    apply_overrides,
    field_docs,
    load_config,
    read_yaml,
)
from caic.training.rm import soft_bt_loss_value
from caic.training.trainer_data import preference_rows, sft_rows

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "training" / "configs"
DATA = ROOT / "training" / "data"


def _one_line(err: CaicError) -> str:
    (diag,) = err.diagnostics
    text = diag.header()
    assert "\n" not in text
    return text


# -- shipped configs ----------------------------------------------------------------------------


def shipped_yaml() -> list[Path]:
    return sorted(CONFIGS.glob("*.yaml"))


def test_every_expected_config_is_shipped() -> None:
    names = {p.name for p in shipped_yaml()}
    for kind in ("sft", "rm", "dpo", "rl"):
        assert f"{kind}-smoke.yaml" in names
        assert f"{kind}-gpu.yaml" in names
    for extra in (
        "pipeline-smoke.yaml",
        "accelerate-1gpu.yaml",
        "accelerate-multi-gpu-zero3.yaml",
        "accelerate-fsdp.yaml",
    ):
        assert extra in names


@pytest.mark.parametrize("path", shipped_yaml(), ids=lambda p: p.name)
def test_config_opens_with_the_command_that_runs_it(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# "), first
    rel = f"training/configs/{path.name}"
    assert rel in first, f"{path.name}: first line must name the file: {first}"
    assert re.search(r"\b(caic (train (sft|rm|dpo|rl)|pipeline run)|accelerate launch)\b", first)


@pytest.mark.parametrize(
    "path",
    [p for p in shipped_yaml() if not p.name.startswith(("accelerate", "pipeline"))],
    ids=lambda p: p.name,
)
def test_trainer_configs_load(path: Path) -> None:
    data = read_yaml(path)
    kind = data["kind"]
    cfg = load_config(kind, path)
    assert cfg.kind == kind
    assert (
        f"caic train {kind} --config training/configs/{path.name}"
        in path.read_text().splitlines()[0]
    )
    if "smoke" in path.name:  # CPU settings measured in STACK-NOTES
        assert cfg.train.device == "cpu" and cfg.train.bf16 is False
        assert cfg.train.gradient_checkpointing is False and cfg.train.max_steps > 0
    if "gpu" in path.name:
        assert cfg.train.bf16 is True and cfg.train.gradient_checkpointing is True


def test_pipeline_config_loads() -> None:
    from caic.training.pipeline import load_pipeline

    cfg = load_pipeline(CONFIGS / "pipeline-smoke.yaml")
    assert cfg.policy.method in ("rl", "dpo") and cfg.sl_cai.limit


ACCELERATE = ["accelerate-1gpu.yaml", "accelerate-multi-gpu-zero3.yaml", "accelerate-fsdp.yaml"]


@pytest.mark.parametrize("name", ACCELERATE)
def test_accelerate_configs_are_accepted_by_accelerate(name: str) -> None:
    """accelerate's own config class loads each file (it rejects unknown top-level keys), and
    every DeepSpeed/FSDP key is an option `accelerate launch` knows (it copies them onto its
    arguments, so a misspelt one would be silently ignored)."""
    from accelerate.commands.config.config_args import ClusterConfig
    from accelerate.commands.launch import launch_command_parser
    from accelerate.utils import DistributedType

    path = CONFIGS / name
    cfg = ClusterConfig.from_yaml_file(str(path))
    options = {a.dest for a in launch_command_parser()._actions}
    for section in ("deepspeed_config", "fsdp_config"):
        unknown = [k for k in getattr(cfg, section) if k not in options]
        assert not unknown, f"{name}: {section} keys accelerate does not know: {unknown}"
    assert cfg.mixed_precision == "bf16" and cfg.use_cpu is False
    expected = {
        "accelerate-1gpu.yaml": (DistributedType.NO, 1),
        "accelerate-multi-gpu-zero3.yaml": (DistributedType.DEEPSPEED, 8),
        "accelerate-fsdp.yaml": (DistributedType.FSDP, 8),
    }[name]
    assert (cfg.distributed_type, cfg.num_processes) == expected
    if name.endswith("zero3.yaml"):
        assert cfg.deepspeed_config["zero_stage"] == 3
    if name.endswith("fsdp.yaml"):
        assert cfg.fsdp_config["fsdp_version"] == 2
    # the first line launches caic through accelerate with a GPU trainer config that loads
    first = path.read_text(encoding="utf-8").splitlines()[0]
    m = re.fullmatch(
        rf"# accelerate launch --config_file training/configs/{re.escape(name)} "
        r"-m caic train (sft|rm|dpo|rl) --config training/configs/(\S+)",
        first,
    )
    assert m, first
    assert load_config(m.group(1), CONFIGS / m.group(2)).train.bf16 is True


@pytest.mark.parametrize("kind", [*sorted(CONFIG_CLASSES), "pipeline"])
def test_every_field_is_documented(kind: str) -> None:
    from caic.training.pipeline import PipelineConfig

    docs = field_docs(PipelineConfig if kind == "pipeline" else CONFIG_CLASSES[kind])
    missing = [k for k, v in docs.items() if len(v) < 15]
    assert not missing, f"undocumented fields: {missing}"


# -- overrides and errors -------------------------------------------------------------------------


def test_overrides_set_dotted_paths_with_yaml_values(tmp_path: Path) -> None:
    cfg = load_config(
        "sft",
        CONFIGS / "sft-smoke.yaml",
        ["train.max_steps=3", "lora.enabled=false", f"output_dir={tmp_path}", "train.bf16=null"],
    )
    assert isinstance(cfg, SFTRunConfig)
    assert cfg.train.max_steps == 3 and cfg.lora.enabled is False
    assert cfg.output_dir == str(tmp_path) and cfg.train.bf16 is None
    assert cfg.train.batch_size == 4  # untouched siblings keep the file's values


def test_apply_overrides_creates_nested_mappings() -> None:
    assert apply_overrides({}, ["a.b.c=1", "a.d=x"]) == {"a": {"b": {"c": 1}, "d": "x"}}


def test_kind_default_learning_rates_survive_partial_train_section(tmp_path: Path) -> None:
    p = tmp_path / "rm.yaml"
    p.write_text("# caic train rm --config rm.yaml\nkind: rm\ntrain: {max_steps: 2}\n")
    assert load_config("rm", p).train.learning_rate == pytest.approx(1e-4)


def test_unknown_key_is_one_line_with_path(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("kind: sft\ntrain:\n  max_step: 3\n")
    with pytest.raises(UsageError) as e:
        load_config("sft", p)
    line = _one_line(e.value)
    assert f"{p}:3:" in line and "unknown key `train.max_step`" in line and "max_steps" in line


def test_wrong_type_names_field_path_and_expected_type(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("kind: dpo\nbeta: high\n")
    with pytest.raises(UsageError) as e:
        load_config("dpo", p)
    line = _one_line(e.value)
    assert "`beta` expects float" in line and "'high'" in line and ":2:" in line


def test_wrong_type_in_override_points_at_the_command_line() -> None:
    with pytest.raises(UsageError) as e:
        load_config("rl", CONFIGS / "rl-smoke.yaml", ["algorithm=ppo"])
    line = _one_line(e.value)
    assert line.startswith("<args>") and "`algorithm` expects 'grpo' | 'rloo'" in line


def test_config_of_another_kind_is_refused() -> None:
    with pytest.raises(UsageError, match="is a `sft` config, not `dpo`"):
        load_config("dpo", CONFIGS / "sft-smoke.yaml")


def test_malformed_yaml_is_one_line(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("kind: sft\ntrain: [1, 2\n")
    with pytest.raises(UsageError) as e:
        load_config("sft", p)
    assert "malformed YAML" in _one_line(e.value)


def test_unknown_trl_field_is_rejected(tmp_path: Path) -> None:
    from trl import SFTConfig

    from caic.training.models import ResolvedModel
    from caic.training.trainer import Context, trl_args

    cfg = load_config("sft", CONFIGS / "sft-smoke.yaml", ["trl={warmup_stepz: 3}"])
    ctx = Context(cfg, tmp_path, "cpu", False, False, ResolvedModel(None, "x", "x"))
    with pytest.raises(UsageError, match="`trl.warmup_stepz` is not a field of TRL's SFTConfig"):
        trl_args(SFTConfig, ctx)
    ok = load_config("sft", CONFIGS / "sft-smoke.yaml", ["trl={warmup_steps: 3}"])
    args = trl_args(SFTConfig, Context(ok, tmp_path, "cpu", False, False, ctx.base))
    assert args.warmup_steps == 3 and args.bf16 is False and args.use_cpu is True
    assert args.gradient_checkpointing is False and args.max_steps == ok.train.max_steps


# -- data checks ----------------------------------------------------------------------------------


def test_labels_without_p_chosen_name_file_and_column(tmp_path: Path) -> None:
    p = tmp_path / "labels.jsonl"
    p.write_text(
        json.dumps(
            {
                "prompt": [{"role": "user", "content": "q"}],
                "chosen": [{"role": "assistant", "content": "a"}],
                "rejected": [{"role": "assistant", "content": "b"}],
            }
        )
        + "\n"
    )
    with pytest.raises(UsageError) as e:
        preference_rows(
            str(p), trainer="`caic train rm` with soft_labels", need_p=True, orient=False
        )
    line = _one_line(e.value)
    assert f"{p}:1:" in line and "missing column `p_chosen`" in line and "rm" in line
    rows, df = preference_rows(str(p), trainer="dpo", need_p=False, orient=True)
    assert len(rows) == 1 and df.sha256 is not None


def test_labels_without_rejected_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "labels.jsonl"
    p.write_text(json.dumps({"prompt": "q", "chosen": "a", "p_chosen": 0.7}) + "\n")
    with pytest.raises(UsageError, match="missing column `rejected` needed by dpo"):
        preference_rows(str(p), trainer="dpo", need_p=False, orient=True)


def test_abstentions_skipped_and_pairs_oriented(tmp_path: Path) -> None:
    p = tmp_path / "labels.jsonl"
    rows = [
        {"prompt": "q", "chosen": "a", "rejected": "b", "p_chosen": 0.3},
        {"prompt": "q", "chosen": None, "rejected": None, "p_chosen": None, "abstained": True},
        {"prompt": "q", "chosen": "c", "rejected": "d", "p_chosen": 0.52},
    ]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out, df = preference_rows(str(p), trainer="dpo", need_p=False, orient=True, min_confidence=0.05)
    assert out == [{"prompt": "q", "chosen": "b", "rejected": "a"}]
    assert df.skipped == {"abstained": 1, "low_confidence": 1}
    soft, _ = preference_rows(str(p), trainer="rm", need_p=True, orient=False)
    assert [r["p_chosen"] for r in soft] == [0.3, 0.52]  # soft labels are kept as given


def test_sft_rows_accept_trl_formats_and_report_bad_rows(tmp_path: Path) -> None:
    rows, df = sft_rows(str(DATA / "sft_tiny.jsonl"))
    assert len(rows) == 8 and set(rows[0]) == {"messages"} and df.rows == 8
    pc = tmp_path / "pc.jsonl"
    pc.write_text(json.dumps({"prompt": "2+2=", "completion": "4"}) + "\n")
    assert sft_rows(str(pc))[0] == [{"prompt": "2+2=", "completion": "4"}]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    with pytest.raises(UsageError, match="no assistant turn"):
        sft_rows(str(bad))
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"question": "hi"}) + "\n")
    with pytest.raises(UsageError) as e:
        sft_rows(str(other))
    assert f"{other}:1:" in _one_line(e.value) and "question" in _one_line(e.value)


def test_missing_base_model_is_one_line() -> None:
    from caic.training.models import resolve_model

    for spec in ("/no/such/model", "./nowhere", "training/no-such-run", "x.gguf"):
        with pytest.raises(UsageError) as e:
            resolve_model(spec)
        assert "base model" in _one_line(e.value) and "not found" in _one_line(e.value)
    with pytest.raises(UsageError, match="not a model folder"):
        resolve_model(str(DATA))


def test_constitution_mismatch_with_data_is_an_error() -> None:
    from caic.training.modelcard import resolve_constitutions
    from caic.training.trainer_data import DataFile

    df = DataFile(role="train", path="x.jsonl", sha256=None, constitution_sha256=["0" * 64])
    with pytest.raises(UsageError, match="produced under constitution sha256 000000000000"):
        resolve_constitutions("hhh-v2", [df])
    refs = resolve_constitutions(None, [df])
    assert refs[0].sha256 == "0" * 64 and refs[0].name is None


def test_data_hash_finds_shipped_constitution_name() -> None:
    from caic.constitution_lang import load, sha256
    from caic.constitutions import find
    from caic.training.modelcard import resolve_constitutions
    from caic.training.trainer_data import DataFile

    c = load(find("hhh-v2"))
    df = DataFile(role="train", path="x", sha256=None, constitution_sha256=[sha256(c)])
    (ref,) = resolve_constitutions(None, [df])
    assert (ref.name, ref.version) == (c.name, c.version)


# -- the soft-label loss --------------------------------------------------------------------------


def test_soft_label_loss_matches_hand_computation() -> None:
    # margin 1.0, p = 0.8: -(0.8 log s(1) + 0.2 log s(-1)),
    # log s(1) = -log(1 + e^-1) = -0.3132617, log s(-1) = -1.3132617
    expected = 0.8 * 0.31326169 + 0.2 * 1.31326169
    assert soft_bt_loss_value(1.0, 0.8) == pytest.approx(expected, abs=1e-7)
    assert soft_bt_loss_value(1.0, 0.8) == pytest.approx(0.5132617, abs=1e-6)
    # p = 1 is TRL's hard loss -log sigmoid(margin)
    assert soft_bt_loss_value(2.0, 1.0) == pytest.approx(math.log1p(math.exp(-2.0)))
    # the minimum over margins sits where sigmoid(margin) = p, i.e. margin = logit(p)
    p = 0.7
    best = math.log(p / (1 - p))
    for d in (-0.3, 0.3):
        assert soft_bt_loss_value(best + d, p) > soft_bt_loss_value(best, p)
    assert soft_bt_loss_value(-800.0, 0.5) == pytest.approx(400.0, rel=1e-9)  # no overflow


def test_soft_label_loss_tensor_agrees_and_has_the_right_gradient() -> None:
    import torch

    from caic.training.rm import soft_bt_loss

    r_c = torch.tensor([1.5, -0.2, 0.0], requires_grad=True)
    r_r = torch.tensor([0.5, 0.3, 0.0])
    p = torch.tensor([0.8, 0.6, 0.5])
    loss = soft_bt_loss(r_c, r_r, p)
    hand = (
        sum(
            soft_bt_loss_value(float(a - b), float(q))
            for a, b, q in zip(r_c.detach(), r_r, p, strict=False)
        )
        / 3
    )
    assert float(loss.detach()) == pytest.approx(hand, abs=1e-6)
    loss.backward()
    # d loss / d r_c = (sigmoid(margin) - p) / n
    expected = (torch.sigmoid(r_c.detach() - r_r) - p) / 3
    assert r_c.grad is not None and torch.allclose(r_c.grad, expected, atol=1e-6)


@pytest.mark.slow
def test_smollm2_training_template_renders_like_the_original() -> None:
    """The shipped template with generation markers is byte-identical to SmolLM2's and masks
    exactly the assistant replies (with their end-of-turn token, so stopping is learned)."""
    from transformers import AutoTokenizer

    from caic.backends.transformers_backend import load_default_model_path
    from caic.training.models import TRAINING_TEMPLATE, training_chat_template

    tok = AutoTokenizer.from_pretrained(load_default_model_path())
    ours = TRAINING_TEMPLATE.read_text(encoding="utf-8")
    assert training_chat_template(tok) == ours
    convs = [
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
        [
            {"role": "system", "content": "S"},
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"},
            {"role": "assistant", "content": "d e"},
        ],
        [{"role": "user", "content": "only a question"}],
    ]
    for conv in convs:
        for gen in (False, True):
            assert tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen) == (
                tok.apply_chat_template(
                    conv, tokenize=False, add_generation_prompt=gen, chat_template=ours
                )
            )
    enc = tok.apply_chat_template(
        convs[1],
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=True,
        chat_template=ours,
    )
    ids, mask = enc["input_ids"], enc["assistant_masks"]  # type: ignore[index,call-overload]
    masked = [t for t, m in zip(ids, mask, strict=True) if m]
    assert tok.decode(masked) == "b<|im_end|>d e<|im_end|>"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


PAIR = {"prompt": "q", "chosen": "a", "rejected": "b"}

# (name, args (with {tmp} and {cfg} filled in), files to write, expected text in the first line)
BAD_INPUT = [
    (
        "unknown-key-in-file",
        ["train", "sft", "--config", "{tmp}/c.yaml"],
        {"c.yaml": "kind: sft\ntrain:\n  max_step: 3\n"},
        "c.yaml:3:3: error[E010] unknown key `train.max_step`; did you mean `max_steps`?",
    ),
    (
        "wrong-type-in-file",
        ["train", "dpo", "--config", "{tmp}/c.yaml"],
        {"c.yaml": "kind: dpo\nbeta: high\n"},
        "c.yaml:2:1: error[E010] `beta` expects float, got str 'high'",
    ),
    (
        "wrong-type-nested-in-file",
        ["train", "rm", "--config", "{tmp}/c.yaml"],
        {"c.yaml": "kind: rm\nlora:\n  enabled: maybe\n"},
        "c.yaml:3:3: error[E010] `lora.enabled` expects bool, got str 'maybe'",
    ),
    (
        "wrong-type-in-override",
        ["train", "sft", "--config", "{cfg}/sft-smoke.yaml", "train.max_steps=x"],
        {},
        "error[E010] override: `train.max_steps` expects int, got str 'x'",
    ),
    (
        "unknown-key-in-override",
        ["train", "rl", "--config", "{cfg}/rl-smoke.yaml", "num_generation=2"],
        {},
        "error[E010] override: unknown key `num_generation`; did you mean `num_generations`?",
    ),
    (
        "labels-without-p_chosen-for-soft-rm",
        ["train", "rm", "--config", "{cfg}/rm-smoke.yaml", "data={tmp}/l.jsonl"],
        {"l.jsonl": json.dumps(PAIR) + "\n"},
        "l.jsonl:1:1: error[E006] missing column `p_chosen` needed by `caic train rm` with "
        "soft_labels",
    ),
    (
        "labels-without-rejected-for-dpo",
        ["train", "dpo", "--config", "{cfg}/dpo-smoke.yaml", "data={tmp}/l.jsonl"],
        {"l.jsonl": json.dumps({"prompt": "q", "chosen": "a", "p_chosen": 0.7}) + "\n"},
        "l.jsonl:1:1: error[E006] missing column `rejected` needed by `caic train dpo`",
    ),
    (
        "sft-data-without-columns",
        ["train", "sft", "--config", "{cfg}/sft-smoke.yaml", "data={tmp}/d.jsonl"],
        {"d.jsonl": json.dumps({"question": "hi", "answer": "ho"}) + "\n"},
        "d.jsonl:1:1: error[E006] row has none of the SFT columns",
    ),
    (
        "base-model-folder-missing",
        ["train", "dpo", "--config", "{cfg}/dpo-smoke.yaml", "model=/no/such/model"],
        {},
        "error[E004] base model not found: no such folder /no/such/model",
    ),
    (
        "base-model-gguf-missing",
        ["train", "sft", "--config", "{cfg}/sft-smoke.yaml", "model={tmp}/m.gguf"],
        {},
        "error[E004] base model not found: no such GGUF file",
    ),
    (
        "base-model-hub-id-not-cached-offline",
        ["train", "rm", "--config", "{cfg}/rm-smoke.yaml", "model=no-such-org/no-such-model"],
        {},
        "error[E004] base model not found: no-such-org/no-such-model is not a local folder and "
        "not in the Hugging Face cache",
    ),
    (
        "pipeline-unknown-key",
        ["pipeline", "run", "{tmp}/p.yaml"],
        {"p.yaml": "run_dir: x\nsl_cai:\n  limt: 4\n"},
        "p.yaml:3:3: error[E010] unknown key `sl_cai.limt`; did you mean `limit`?",
    ),
    (
        "reward-model-missing",
        ["train", "rl", "--config", "{cfg}/rl-smoke.yaml", "reward_model={tmp}/rm"],
        {},
        "error[E004] reward model not found",
    ),
]


@pytest.mark.parametrize("case", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_cli_bad_input_is_one_line_and_exit_2(
    case: tuple[str, list[str], dict[str, str], str], tmp_path: Path
) -> None:
    """Each bad input is one error line (plus the source excerpt for file errors), exit 2,
    no traceback, and no model loaded: the checks run before any weights are read."""
    import os
    import subprocess
    import sys
    import time

    _name, args, files, expected = case
    for fname, text in files.items():
        _write(tmp_path / fname, text)
    argv = [a.format(tmp=tmp_path, cfg=CONFIGS) for a in args]
    if argv[:2] != ["pipeline", "run"]:
        argv.append(f"output_dir={tmp_path}/out")
    # offline: the Hub-id case must not touch the network (and nothing else may)
    env = {**os.environ, "CAIC_DEBUG": "", "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "caic", *argv], capture_output=True, text=True, env=env, cwd=ROOT
    )
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 2, proc.stderr
    first = proc.stderr.strip().splitlines()[0]
    assert expected in first, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "out" / "run.json").exists()
    assert elapsed < 60, f"bad input took {elapsed:.0f} s to report"


@pytest.mark.parametrize("kind", sorted(CONFIG_CLASSES))
def test_show_documents_every_field_and_loads_back(kind: str, tmp_path: Path) -> None:
    """`caic train show KIND` prints every field with its default and the docstring saying
    why; the output is itself a valid config equal to the defaults."""
    from typer.testing import CliRunner

    from caic.cli import (
        app,
        commands,  # noqa: F401  (registers the sub-commands)
    )

    result = CliRunner().invoke(app, ["train", "show", kind])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.splitlines()[0] == f"# caic train {kind} --config {kind}.yaml"
    path = _write(tmp_path / f"{kind}.yaml", text)
    assert load_config(kind, path) == CONFIG_CLASSES[kind]()
    lines = text.splitlines()
    keys = [i for i, ln in enumerate(lines) if not ln.lstrip().startswith("#")]
    assert len(keys) == len(field_docs(CONFIG_CLASSES[kind]))  # one line per field, nested too
    for i in keys:  # and a comment right above each
        assert lines[i - 1].lstrip().startswith("# "), lines[i]
