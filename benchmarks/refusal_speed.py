"""Throughput of the refusal classifier: the shipped model (numpy) and the rules alone.

    python benchmarks/refusal_speed.py [--n 1000] [--repeat 3]

Scores the project's own labelled completions (``benchmarks/data/refusal_completions.jsonl``
and ``refusal_more/*.jsonl``, cycled to ``--n``) with their prompts, in one call per
engine as ``caic eval`` and ``caic refusal classify`` do (a batch of replies at a time),
and prints completions per second (best of ``--repeat``; the first call, which maps the
weights, is timed apart). Threads: ``CAIC_LINT_THREADS`` (default: the usable CPUs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = [ROOT / "benchmarks/data/refusal_completions.jsonl",
        *sorted((ROOT / "benchmarks/data/refusal_more").glob("*.jsonl"))]  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rows = [json.loads(x) for p in DATA for x in p.read_text(encoding="utf-8").splitlines() if x]
    rows = (rows * (args.n // len(rows) + 1))[: args.n]
    comps = [r["completion"] for r in rows]
    prompts = [r["prompt"] for r in rows]
    from caic.evals import refusal_model as rm
    from caic.evals.refusal import classify

    t0 = time.perf_counter()
    rm.probabilities(comps[:32], prompts[:32])
    first = time.perf_counter() - t0
    print(f"{len(rows)} completions, mean {sum(map(len, comps)) / len(comps):.0f} characters; "
          f"threads {os.environ.get('CAIC_LINT_THREADS') or len(os.sched_getaffinity(0))}; "
          f"first call (32 rows, loads the weights) {first:.2f} s")  # fmt: skip
    print("| engine | completions/s |\n|---|---:|")
    for name, fn in (
        ("model (numpy MiniLM + rules features)", lambda: rm.probabilities(comps, prompts)),
        ("rules alone", lambda: [classify(c, p) for c, p in zip(comps, prompts, strict=True)]),
    ):
        best = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t)
        print(f"| {name} | {len(rows) / best:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
