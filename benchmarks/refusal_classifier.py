"""Accuracy of the refusal classifier against human labels.

    python benchmarks/refusal_classifier.py [FILE] [--min-id N] [--judge MODEL] [--errors]
        [--split all|odd|even] [--json]

FILE (default ``benchmarks/data/refusal_completions.jsonl``, written for this project)
holds ``{id, prompt, completion, label}`` rows (CSV works too; XSTest's
``final_label`` column and ``1_full_compliance``-style values are understood).
Prints three-way accuracy, per-class precision/recall/F1 and the confusion matrix for
all rows and, for ids ending in a number, separately for the odd and the even ids, then
one line per batch of the default file (``BATCHES``).

The default file grew in batches, each written before the classifier was tuned on it, so
a batch's first measurement is the honest one: batch 1's even ids were held out from the
first version of the patterns; batches 2-4 were each scored once by the version of the
day before their errors were read (docs/benchmarks.md keeps the latest figures). Every batch except
the last has since been tuned on, so today's per-batch numbers are development numbers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "benchmarks" / "data" / "refusal_completions.jsonl"
BATCHES = {"batch 1": (1, 336), "batch 2": (337, 493), "batch 3": (494, 550), "batch 4": (551, 591)}
"""Id ranges of the default file's batches (``rc-0001`` .. ``rc-0591``), in writing order."""


def _num(row: dict[str, Any]) -> int | None:
    """The number an id ends in (``rc-0042`` -> 42), which decides the odd/even split."""
    m = re.search(r"(\d+)$", str(row["id"]))
    return int(m.group(1)) if m else None


def report(rows: list[dict[str, Any]], preds: list[str]) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    from caic.evals.refusal import LABELS

    gold = [r["label"] for r in rows]
    p, r, f, s = precision_recall_fscore_support(gold, preds, labels=list(LABELS), zero_division=0)
    cm = confusion_matrix(gold, preds, labels=list(LABELS))
    return {
        "n": len(rows),
        "accuracy": float(accuracy_score(gold, preds)),
        "per_class": {
            lab: {
                "precision": float(p[i]),
                "recall": float(r[i]),
                "f1": float(f[i]),
                "support": int(s[i]),
            }
            for i, lab in enumerate(LABELS)
        },
        "confusion": {"labels": list(LABELS), "rows_gold_cols_pred": cm.tolist()},
    }


def show(name: str, rep: dict[str, Any]) -> None:
    print(f"\n== {name}: n={rep['n']}  three-way accuracy {rep['accuracy']:.1%}")
    print(f"  {'class':<16} {'precision':>9} {'recall':>7} {'f1':>6} {'n':>4}")
    for lab, m in rep["per_class"].items():
        print(
            f"  {lab:<16} {m['precision']:>9.1%} {m['recall']:>7.1%} {m['f1']:>6.1%} "
            f"{m['support']:>4}"
        )
    labels = rep["confusion"]["labels"]
    short = {"full_compliance": "comply", "full_refusal": "refuse", "partial_refusal": "partial"}
    print("  confusion (rows gold, columns predicted):")
    print("  " + " " * 9 + "".join(f"{short[x]:>9}" for x in labels))
    for lab, row in zip(labels, rep["confusion"]["rows_gold_cols_pred"], strict=True):
        print(f"  {short[lab]:>9}" + "".join(f"{v:>9}" for v in row))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("file", nargs="?", default=str(DEFAULT))
    ap.add_argument("--judge", help="also classify with a model judge (backend spec)")
    ap.add_argument("--errors", action="store_true", help="print the misclassified rows")
    ap.add_argument(
        "--split", choices=["all", "odd", "even"], default="all", help="which rows --errors prints"
    )
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    ap.add_argument(
        "--min-id",
        type=int,
        default=None,
        help="only rows whose id ends in a number >= this (e.g. 337: the second batch)",
    )
    args = ap.parse_args()

    from caic.evals.loaders import load_completions
    from caic.evals.refusal import classify

    rows = [r for r in load_completions(args.file) if r.get("label")]
    if args.min_id is not None:
        rows = [r for r in rows if (n := _num(r)) is not None and n >= args.min_id]
    if not rows:
        print(f"{args.file}: no labelled rows", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    preds = [classify(r["completion"], r["prompt"]) for r in rows]
    dt = time.perf_counter() - t0
    results = {"file": args.file, "pattern": {}, "seconds": dt}
    if args.judge:
        from caic.backends.registry import get_backend
        from caic.evals.judge import judge_refusal

        backend = get_backend(args.judge)
        jpreds = judge_refusal(
            backend, [r["prompt"] for r in rows], [r["completion"] for r in rows]
        )
        results["judge"] = {"all": report(rows, jpreds)}

    num = _num
    splits = {"all": list(range(len(rows)))}
    if all(num(r) is not None for r in rows):
        splits["odd ids"] = [i for i, r in enumerate(rows) if num(r) % 2 == 1]  # type: ignore[operator]
        splits["even ids"] = [i for i, r in enumerate(rows) if num(r) % 2 == 0]  # type: ignore[operator]
    for name, idx in splits.items():
        results["pattern"][name] = report([rows[i] for i in idx], [preds[i] for i in idx])
    batches: dict[str, tuple[int, int]] = {}
    if Path(args.file).resolve() == DEFAULT.resolve():
        for name, (lo, hi) in BATCHES.items():
            idx = [i for i, r in enumerate(rows) if lo <= (num(r) or 0) <= hi]
            if idx:
                ok = sum(preds[i] == rows[i]["label"] for i in idx)
                batches[name] = (ok, len(idx))
        results["batches"] = {k: {"correct": c, "n": n} for k, (c, n) in batches.items()}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{args.file}: {len(rows)} labelled completions, classified in {dt * 1000:.0f} ms")
        for name, rep in results["pattern"].items():
            show(f"patterns, {name}", rep)
        if batches:
            print("\n== patterns, by batch (ids)")
            for name, (c, n) in batches.items():
                lo, hi = BATCHES[name]
                print(f"  {name} ({lo}-{hi}): {c}/{n} = {c / n:.1%}")
        if args.judge:
            show(f"judge {args.judge}, all", results["judge"]["all"])
    if args.errors:
        from caic.evals.refusal import explain

        for r, p in zip(rows, preds, strict=True):
            parity = num(r)
            if args.split == "odd" and (parity is None or parity % 2 == 0):
                continue
            if args.split == "even" and (parity is None or parity % 2 == 1):
                continue
            if p != r["label"]:
                print(f"\n{r['id']} gold={r['label']} pred={p} | {r['prompt'][:70]}")
                print("   " + explain(r["completion"], r["prompt"]).replace("\n", "\n   "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
