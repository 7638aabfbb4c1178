"""Training throughput and peak memory on the default model on this CPU: SFT and DPO steps,
LoRA against full fine-tuning.

Each case runs in its own process (so its peak resident memory is its own), through the same
code as ``caic train`` (the smoke configs, with the probe off), on the tiny training sets in
``training/data``. The first step (allocations, lazy init) is a warm-up; samples/s is
measured over the steps after it. Peak RSS is ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
of the process: it includes the loaded model(s) and, for full fine-tuning, the AdamW state of
every weight and, for DPO, a second copy of the model as the reference.

    python benchmarks/train_bench.py                 # all four cases, 4 timed steps each
    python benchmarks/train_bench.py --steps 6 --threads 0 --only sft-lora,dpo-lora
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ("sft-lora", "sft-full", "dpo-lora", "dpo-full")


def run_case(case: str, steps: int, batch: int, threads: int | None) -> dict[str, object]:
    from transformers import TrainerCallback

    from caic.training.config import load_config
    from caic.training.trainer import make_context

    kind, mode = case.split("-")
    out = Path(tempfile.mkdtemp(prefix=f"caic-bench-{case}-"))
    overrides = [
        f"output_dir={out}",
        "probe_items=0",
        f"train.max_steps={steps + 1}",
        f"train.batch_size={batch}",
        f"lora.enabled={'true' if mode == 'lora' else 'false'}",
    ]
    if mode == "full":
        overrides.append("train.learning_rate=0.00001")
    overrides.append(f"train.cpu_threads={threads or 'null'}")
    cfg = load_config(kind, ROOT / "training" / "configs" / f"{kind}-smoke.yaml", overrides)

    class Timer(TrainerCallback):  # type: ignore[misc]
        def __init__(self) -> None:
            self.ends: list[float] = []

        def on_step_end(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
            self.ends.append(time.perf_counter())

    timer = Timer()
    ctx = make_context(cfg)
    ctx.callbacks = [timer]
    from importlib import import_module

    t0 = time.perf_counter()
    import_module(f"caic.training.{kind}").__dict__[f"train_{kind}"](ctx)
    total = time.perf_counter() - t0
    timed = timer.ends[-1] - timer.ends[0]  # steps 2..N (the first is warm-up)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    return {
        "case": case,
        "steps_timed": len(timer.ends) - 1,
        "batch": batch,
        "s_per_step": timed / max(len(timer.ends) - 1, 1),
        "samples_per_s": batch * (len(timer.ends) - 1) / timed,
        "peak_rss_gb": peak_kb / 1024 / 1024,
        "wall_s": total,
        "threads": threads,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4, help="timed steps after one warm-up step")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1, as the smoke configs; 0 = torch's default)",
    )
    ap.add_argument("--only", default=",".join(CASES), help="comma-separated cases")
    ap.add_argument("--case", help=argparse.SUPPRESS)  # child process mode
    a = ap.parse_args()
    if a.case:
        print(json.dumps(run_case(a.case, a.steps, a.batch_size, a.threads)))
        return
    import torch

    cores = os.cpu_count()
    print(
        f"caic train bench: SmolLM2-135M-Instruct fp32 on CPU ({cores} cores, torch "
        f"{torch.__version__}, {a.threads or torch.get_num_threads()} threads), batch "
        f"{a.batch_size}, {a.steps} timed steps after 1 warm-up, tiny sets in training/data",
        flush=True,
    )
    print(
        f"{'case':<10} {'s/step':>8} {'samples/s':>10} {'peak RSS GB':>12} {'wall s':>8}",
        flush=True,
    )
    results = []
    for case in a.only.split(","):
        cmd = [
            sys.executable,
            __file__,
            "--case",
            case,
            "--steps",
            str(a.steps),
            "--batch-size",
            str(a.batch_size),
        ]
        cmd += ["--threads", str(a.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{case:<10} failed: {proc.stderr.strip().splitlines()[-1:]}", flush=True)
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        print(
            f"{case:<10} {r['s_per_step']:>8.2f} {r['samples_per_s']:>10.2f} "
            f"{r['peak_rss_gb']:>12.2f} {r['wall_s']:>8.0f}",
            flush=True,
        )
    by = {r["case"]: r for r in results}
    for kind in ("sft", "dpo"):
        lo, fu = by.get(f"{kind}-lora"), by.get(f"{kind}-full")
        if lo and fu:
            print(
                f"{kind}: LoRA is {lo['samples_per_s'] / fu['samples_per_s']:.2f}x the samples/s "
                f"of full fine-tuning at {lo['peak_rss_gb'] / fu['peak_rss_gb']:.2f}x its peak RSS"
            )


if __name__ == "__main__":
    main()
