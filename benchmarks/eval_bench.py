"""Throughput of each eval suite on a model, with batching: items per second.

    python benchmarks/eval_bench.py [--limit 16] [--batch-size 16] [--max-new-tokens 64]
                                    [--suites NAME,...] [--model SPEC] [--json]

Loads the model once (load time reported separately), then runs each suite's solver on
the first ``--limit`` items of its default set (a seeded subset, as ``caic eval`` picks)
and prints items/s. Generating suites (harmlessness, over-refusal) cost about
``max_new_tokens`` decoding steps per batch; sycophancy costs three scoring passes per
item and label agreement two (both orders) with the neutral judge principle.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--limit", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--suites", default="harmlessness,over-refusal,sycophancy,label-agreement")
    ap.add_argument("--model", default=None, help="backend spec (default: the embedded model)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import torch

    from caic.backends.base import SamplingParams
    from caic.backends.registry import get_backend
    from caic.evals.loaders import load_suite, subsample
    from caic.evals.suites import SUITES, Context

    t0 = time.perf_counter()
    kw = {"batch_size": args.batch_size} if not args.model or "transformers" in args.model else {}
    backend = get_backend(args.model, **kw)
    load_s = time.perf_counter() - t0
    params = SamplingParams(max_new_tokens=args.max_new_tokens, seed=args.seed)
    ctx = Context(model=backend, params=params, seed=args.seed, batch_size=args.batch_size)
    results: dict[str, Any] = {
        "model": backend.model_id,
        "threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "load_seconds": round(load_s, 2),
        "suites": {},
    }
    for name in [s.strip() for s in args.suites.split(",") if s.strip()]:
        items = subsample(load_suite(name).items, args.limit, args.seed)
        start = time.perf_counter()
        n = sum(len(recs) for recs in SUITES[name].solve(ctx, items, lambda _id: False))
        secs = time.perf_counter() - start
        results["suites"][name] = {"items": n, "seconds": round(secs, 2),
                                   "items_per_s": round(n / secs, 3)}  # fmt: skip
        if not args.json:
            print(f"{name:<16} {n:>4} items {secs:>8.1f} s  {n / secs:>7.3f} items/s", flush=True)
    backend.close()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"model {results['model']}, load {load_s:.1f} s, torch threads "
              f"{results['threads']}, batch {args.batch_size}, max_new_tokens "
              f"{args.max_new_tokens}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
