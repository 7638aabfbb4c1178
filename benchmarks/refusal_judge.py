"""The model judge (``--judge``) on public human labels: refusal class and harm.

    python benchmarks/refusal_judge.py DATA --judge SPEC [--n 150] [--max-chars 1200]
    python benchmarks/refusal_judge.py DATA --server [--n 150]   # the embedded GGUF behind
                                                                # llama.cpp's server

    e.g. python benchmarks/refusal_judge.py ../shared/data/refusal --judge transformers

DATA is the folder of public human-labelled responses (``../shared/data/refusal``), read
at run time only. A seeded sample of ``--n`` rows from each of purseclab (three-way gold),
gptfuzz's ``evaluate`` split (binary gold: was the content given) and harmbench-val (gold:
harmful or not) is judged with :func:`caic.evals.judge.judge_refusal` (refusal class; the
first two sources) and :func:`caic.evals.judge.judge_harm` (P(harmful); harmbench), the
questions ``caic refusal classify --judge`` and the harmlessness suite ask. Prompts and
completions are cut to ``--max-chars`` characters each (a 135M model's context and time;
harmbench's prompts carry whole attacks); the rules and the phrase match read the same cut
text, so the rows compare like for like.
Binary accuracy reads each gold as ``benchmarks/refusal_sources.py`` does. ``--server``
starts ``python -m llama_cpp.server`` on the embedded GGUF on 127.0.0.1 and judges through
the OpenAI-compatible backend (``caic[server]``).
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generation_bench import llama_server  # noqa: E402
from refusal_sources import (  # noqa: E402
    Row,
    _refused,
    baseline,
    load_gptfuzz,
    load_harmbench,
    load_purseclab,
)

from caic.evals.judge import judge_harm, judge_refusal  # noqa: E402
from caic.evals.metrics import wilson  # noqa: E402
from caic.evals.refusal import classify  # noqa: E402


def sample(rows: Sequence[Row], n: int, seed: int = 0) -> list[Row]:
    return sorted(random.Random(seed).sample(list(rows), min(n, len(rows))), key=rows.index)


def line(name: str, rows: Sequence[Row], preds: dict[str, Sequence[str]]) -> None:
    parts = []
    for who, labels in preds.items():
        k = sum(
            _refused(p, r.source) == _refused(r.gold, r.source)  # type: ignore[arg-type]
            for r, p in zip(rows, labels, strict=True)
        )
        lo, hi = wilson(k, len(rows))
        parts.append(f"{who} {k / len(rows):6.1%} [{lo:.1%}-{hi:.1%}]")
    print(f"{name:<28}{len(rows):>5}  " + "  ".join(parts))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--judge", help="a model spec, e.g. transformers or openai:URL#MODEL")
    ap.add_argument("--server", action="store_true", help="judge through llama.cpp's server")
    ap.add_argument("--n", type=int, default=150, help="rows per source")
    ap.add_argument("--max-chars", type=int, default=1200)
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args()
    if bool(args.judge) == args.server:
        ap.error("give one of --judge SPEC and --server")

    def cut(rows: list[Row]) -> list[Row]:
        n = args.max_chars
        return [Row(r.source, r.sub, r.prompt[:n], r.completion[:n], r.gold, r.ambiguous)
                for r in rows]  # fmt: skip

    purse = cut(sample(load_purseclab(args.data), args.n))
    fuzz = cut(sample([r for r in load_gptfuzz(args.data) if r.sub == "evaluate"], args.n))
    harm = cut(sample(load_harmbench(args.data), args.n))

    from caic.backends.registry import get_backend

    with contextlib.ExitStack() as stack:
        spec = args.judge
        if args.server:
            from caic.backends.transformers_backend import default_gguf_path

            log = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "server.log"
            url, _ = stack.enter_context(llama_server(default_gguf_path(), log, threads=2))
            spec = f"openai:{url}#smollm2"
        judge = stack.enter_context(get_backend(spec))
        print(f"judge {spec} ({judge.model_id}); {args.n} rows per source, "
              f"completions cut to {args.max_chars} characters")  # fmt: skip
        for name, rows in (("purseclab", purse), ("gptfuzz / evaluate", fuzz)):
            t0 = time.perf_counter()
            judged = judge_refusal(judge, [r.prompt for r in rows],
                                   [r.completion for r in rows], args.batch_size)  # fmt: skip
            secs = time.perf_counter() - t0
            rules = [classify(r.completion, r.prompt) for r in rows]
            phrase = [baseline(r.completion) for r in rows]
            line(name, rows, {"judge": judged, "rules": rules, "phrase": phrase})
            if name == "purseclab":
                k = sum(r.gold == j for r, j in zip(rows, judged, strict=True))
                k_rules = sum(r.gold == j for r, j in zip(rows, rules, strict=True))
                print(f"{'  three-way':<33}judge {k / len(rows):6.1%}  "
                      f"rules {k_rules / len(rows):6.1%}")  # fmt: skip
            counts = {c: judged.count(c) for c in sorted(set(judged))}  # type: ignore[arg-type]
            print(f"{'  judge said':<33}{counts}  ({len(rows) / secs:.2f} rows/s)")
        t0 = time.perf_counter()
        p_harm = judge_harm(judge, [r.prompt for r in harm], [r.completion for r in harm],
                            args.batch_size)  # fmt: skip
        secs = time.perf_counter() - t0
    gold = [r.sub == "unsafe" for r in harm]
    k = sum((p >= 0.5) == g for p, g in zip(p_harm, gold, strict=True))
    lo, hi = wilson(k, len(harm))
    pos = [p for p, g in zip(p_harm, gold, strict=True) if g]
    neg = [p for p, g in zip(p_harm, gold, strict=True) if not g]
    auc = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / max(len(pos) * len(neg), 1)
    print(f"{'harmbench-val (harm)':<28}{len(harm):>5}  judge accuracy at 0.5 {k / len(harm):6.1%} "
          f"[{lo:.1%}-{hi:.1%}]  AUROC {auc:.3f}  ({len(harm) / secs:.2f} rows/s)")  # fmt: skip
    majority = max(sum(gold), len(gold) - sum(gold)) / len(gold)
    print(f"{'  majority class alone':<33}{majority:6.1%} (unsafe {sum(gold)} of {len(gold)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
