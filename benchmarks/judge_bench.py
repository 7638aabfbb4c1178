"""Judge throughput and label quality of the default model on the project's labelled pairs.

    python benchmarks/judge_bench.py --threads 1        # 8 pairs timed, 40 for quality
    python benchmarks/judge_bench.py --quality-pairs 0 --methods scoring,text_short  # quicker
    python benchmarks/judge_bench.py --json out.json

The free-text verdict dominates the run time (about 2 minutes for 8 pairs on one core);
one torch thread gives steadier numbers on a shared machine.

Measures, on the first N pairs of ``evals/data/label_agreement.jsonl`` (the better
response is clear by construction; ``load_pairs`` puts it in a seeded random slot),
with the ``hhh-v2`` constitution and one sampled principle per pair, in pairs/s (wall)
and pairs per CPU-second of this process (steadier on a shared machine):

1. **Option scoring** (what ``caic rlaif label`` does): both orders of every pair of a
   batch go to one ``score_options`` call; the option letter is one token after
   ``"The better response is ("``, so one forward pass per prompt and only the last
   position's logits are needed. The transformers backend runs the prefix shared by
   the whole call (chat-template header and instructions, ~40 tokens) once, and the
   prefix a pair's two orders share (the conversation and principle, ~60 more) once
   per pair, through the KV cache (``backends/shared_prefix.py``).
2. The same without the prefix cache (every prompt run in full; the previous path;
   soft labels agree with 1. to ~1e-5).
3. **Verdict as text**, the way a user without log-probs would get it: the same judge
   prompts (which end "Answer with the letter of the better response."), no assistant
   prefix, greedy, batched, parsed for "(A)"/"(B)" (``text_verdict``). Two budgets:
   ``--text-tokens`` (default 256, the budget of the project's own text path,
   ``caic rlaif label --cot``), stopping at the end-of-turn token; and
   ``--short-tokens`` (default 16, enough for "The better response is (A)"). The
   default model answers "(A) ..." and then keeps writing (it usually repeats a
   response), so the free-text verdict runs until the turn ends or the budget does.
4. Pointwise scoring (each response alone), for comparison.
5. **Label quality** on ``--quality-pairs`` pairs: accuracy, Cohen's kappa and position
   consistency against the known better response, pairwise and pointwise.

Why scoring is not 5x faster than a *short* text verdict on a CPU: both must run the
judge prompt (~210 tokens) through the model; scoring stops there, the text verdict
adds batched decode steps that each cost a few percent of the prompt pass. The prefix
cache cuts the tokens scoring computes by about a third; it cannot remove the two
responses, which every order must read.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "evals" / "data" / "label_agreement.jsonl"
_LEAD = re.compile(r"^\W*\(?([AB])\b")
_NAMED = re.compile(r"(?i:response|option)\s*\(?([AB])\b")


def text_verdict(text: str) -> str | None:
    """The option a generated verdict names: phrase, a leading letter, or "Response X"."""
    from caic.training.labeller import parse_verdict

    named, _ = parse_verdict(text)
    if named is not None:
        return named
    for pattern in (_LEAD, _NAMED):
        m = pattern.search(text)
        if m:
            return m.group(1).lower()
    return None


def judge_prompts(c: Any, pairs: list[dict[str, Any]], seed: int) -> list[list[dict[str, str]]]:
    """Forward and swapped direct judge prompts for each pair (the labeller's own prompts)."""
    from caic.compiler.promptset import judge_records
    from caic.training.labeller import order_prompt, principle_draws

    records = {r["id"]: r for r in judge_records(c)}
    out = []
    for pair, [name] in zip(pairs, principle_draws(c, len(pairs), "sample", seed), strict=True):
        for order in ("forward", "swapped"):
            out.append(order_prompt(records[f"{name}/direct/{order}"], pair))
    return out


def shared_prefix_share(backend: Any, prompts: list[list[dict[str, str]]]) -> float:
    """Mean share of tokens the forward prompt of a pair has in common with its swapped one."""
    from caic.backends.shared_prefix import common_prefix

    shares = []
    for fwd, swp in zip(prompts[::2], prompts[1::2], strict=True):
        a = backend._encode(backend.render(fwd))
        b = backend._encode(backend.render(swp))
        shares.append(common_prefix(a, b) / max(len(a), len(b)))
    return sum(shares) / len(shares)


METHODS = ("scoring", "scoring_no_cache", "text", "text_short", "pointwise")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=8, help="labelled pairs to time")
    ap.add_argument("--quality-pairs", type=int, default=40,
                    help="labelled pairs for the quality table (0: skip)")  # fmt: skip
    ap.add_argument("--constitution", default="hhh-v2")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--text-tokens", type=int, default=256,
                    help="free-text verdict budget (the project's text path: 256)")  # fmt: skip
    ap.add_argument("--short-tokens", type=int, default=16, help="budget of the short one")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    if unknown := set(methods) - set(METHODS):
        ap.error(f"unknown methods {sorted(unknown)}; choose from {', '.join(METHODS)}")

    import torch

    from caic.backends.base import SamplingParams
    from caic.backends.registry import get_backend
    from caic.compiler.data import load_pairs
    from caic.constitution_lang import load
    from caic.constitutions import find
    from caic.training.label_audit import audit
    from caic.training.labeller import Mode, label_pairs

    if args.threads:
        torch.set_num_threads(args.threads)
    c = load(find(args.constitution))
    all_pairs = load_pairs(str(DATA))
    pairs = all_pairs[: args.pairs]
    t0 = time.perf_counter()
    backend = get_backend(None, batch_size=args.batch_size)
    threads = torch.get_num_threads()
    loaded = time.perf_counter() - t0
    print(f"model {backend.model_id} loaded in {loaded:.1f} s; {len(pairs)} pairs, "
          f"torch threads {threads}", file=sys.stderr)  # fmt: skip
    res: dict[str, Any] = {"pairs": len(pairs), "model": backend.model_id, "threads": threads,
                           "load_before": os.getloadavg()}  # fmt: skip

    # warm-up: first calls pay for allocator growth and lazy initialisation
    list(label_pairs(c, pairs[:2], backend, seed=args.seed))
    n = len(pairs)
    bs = args.batch_size

    def timed(name: str, fn: Any) -> Any:
        """Run ``fn``; record pairs per wall second and per CPU second of this process."""
        print(f"  timing {name} ...", file=sys.stderr, flush=True)
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        res[name] = {"wall_s": wall, "cpu_s": cpu, "pairs_per_s": n / wall,
                     "pairs_per_cpu_s": n / cpu}  # fmt: skip
        print(f"    {name}: {n / wall:.3f} pairs/s, {n / cpu:.3f} pairs/CPU-s, load "
              f"{os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)  # fmt: skip
        return out

    def score(cache: bool, rows: list[dict[str, Any]], mode: Mode = "pairwise") -> Any:
        backend.prefix_cache = cache
        return list(label_pairs(c, rows, backend, mode=mode, seed=args.seed, batch_size=bs))

    prompts = judge_prompts(c, pairs, args.seed)
    res["shared_prefix_share"] = shared_prefix_share(backend, prompts)
    lengths = [len(backend._encode(backend.render(p))) for p in prompts]
    res["prompt_tokens"] = sum(lengths) / len(lengths)
    scored = cached = None
    if "scoring" in methods:
        cached = timed("scoring", lambda: score(True, pairs))
    if "scoring_no_cache" in methods:
        scored = timed("scoring_no_cache", lambda: score(False, pairs))
    if cached is not None and scored is not None:
        res["max_label_diff_cache_vs_not"] = max(
            abs(a[k] - b[k]) for a, b in zip(cached, scored, strict=True)
            for k in ("p_forward", "p_swapped") if a[k] is not None
        )  # fmt: skip
    for key, budget in (("text", args.text_tokens), ("text_short", args.short_tokens)):
        if key not in methods:
            continue
        params = SamplingParams(max_new_tokens=budget)
        texts = timed(key, lambda p=params: backend.generate(prompts, p))
        verdicts = [text_verdict(x) for x in texts]
        toks = [len(backend._encode(x)) for x in texts]
        res[key].update(
            budget=budget,
            unparsed_rate=sum(v is None for v in verdicts) / len(verdicts),
            mean_new_tokens=sum(toks) / len(toks),
            at_budget_rate=sum(t >= budget for t in toks) / len(toks),
            examples=texts[:3],
        )
    if "pointwise" in methods:
        timed("pointwise", lambda: score(True, pairs, "pointwise"))
    res["load_after"] = os.getloadavg()
    res["speedup"] = {
        f"{s}/{t}": {u: res[s][u] / res[t][u] for u in ("pairs_per_s", "pairs_per_cpu_s")}
        for s in ("scoring", "scoring_no_cache") for t in ("text", "text_short")
        if s in res and t in res
    }  # fmt: skip
    keys = ("accuracy", "kappa", "position_consistency", "first_slot_rate", "abstention_rate",
            "ece", "brier")  # fmt: skip
    res["quality"] = {}
    qpairs = all_pairs[: args.quality_pairs]
    if qpairs:
        print(f"  quality on {len(qpairs)} pairs ...", file=sys.stderr, flush=True)
        for mode in ("pairwise", "pointwise"):
            m = audit(score(True, qpairs, mode))
            res["quality"][mode] = {k: m[k] for k in keys}
    backend.close()
    print_report(res, args)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    return 0


def print_report(res: dict[str, Any], args: argparse.Namespace) -> None:
    def f(x: Any) -> str:
        return "-" if x is None else f"{x:.3f}"

    load = " ".join(f"{x:.2f}" for x in res["load_before"])
    print(f"judge throughput, {res['model']}, {res['pairs']} pairs (both orders), "
          f"{res['threads']} torch thread(s), load average before: {load}; "
          f"mean judge prompt {res['prompt_tokens']:.0f} tokens")  # fmt: skip
    print(f"  {'method':<58} {'pairs/s':>8} {'pairs/CPU-s':>12}")
    labels = {
        "scoring": "option scoring, both orders batched, shared prefix once",
        "scoring_no_cache": "option scoring, every prompt in full (no prefix cache)",
        "text": f"verdict as free text (<= {args.text_tokens} tokens), parsed",
        "text_short": f"verdict as text, cut at {args.short_tokens} tokens, parsed",
        "pointwise": "pointwise scoring (each response alone)",
    }
    for key, label in labels.items():
        if key in res:
            r = res[key]
            print(f"  {label:<58} {r['pairs_per_s']:>8.3f} {r['pairs_per_cpu_s']:>12.3f}")
    for key in ("text", "text_short"):
        if key in res:
            r = res[key]
            print(f"  {key}: mean {r['mean_new_tokens']:.0f} new tokens, "
                  f"{r['at_budget_rate']:.0%} ran to the budget, "
                  f"{r['unparsed_rate']:.0%} unparsed")  # fmt: skip
    for k, v in res["speedup"].items():
        print(f"  speedup {k}: {v['pairs_per_s']:.2f}x wall, {v['pairs_per_cpu_s']:.2f}x CPU")
    if "max_label_diff_cache_vs_not" in res:
        print(f"  largest soft-label difference, prefix cache vs none: "
              f"{res['max_label_diff_cache_vs_not']:.1e}")  # fmt: skip
    print(f"  tokens a pair's two orders share: {res['shared_prefix_share']:.0%}")
    if res["quality"]:
        print(f"label quality vs the known better response ({args.constitution}, one sampled "
              f"principle per pair, {args.quality_pairs} pairs)")  # fmt: skip
        print(f"  {'mode':<10} {'accuracy':>9} {'kappa':>7} {'pos_consist':>12} "
              f"{'first_slot':>11}")  # fmt: skip
        for mode, m in res["quality"].items():
            print(f"  {mode:<10} {f(m['accuracy']):>9} {f(m['kappa']):>7} "
                  f"{f(m['position_consistency']):>12} {f(m['first_slot_rate']):>11}")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
