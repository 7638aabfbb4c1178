"""Which refusal classifier decides by default: the rules, the model, or both.

    python benchmarks/refusal_combine.py LOSO.json [--card evals/refusal_classifier.json]

LOSO.json is ``train_refusal_classifier.py --json`` output over the six held-out groups
(purseclab, gptfuzz, caic-written with no own data in training, and the own files
moralising, personas and partial each held out of a model trained on everything else);
it holds, per held-out row, the gold, the model's probabilities and the rules' class.

Three candidates, fixed before their held-out numbers were read (2026-12-07):

- ``rules``: the rule classifier alone;
- ``model``: the argmax of the model's probabilities;
- ``override``: the rules decide, and the model overrides them where its probability for
  another class exceeds its probability for the rules' class by at least 0.5.

Criterion, fixed with them: the default is the candidate with the highest mean binary
accuracy over the six groups, each weighing the same (the three own files are also inside
``caic-written``, scored there by a model that saw none of the project's rows); on a tie
(within 0.5 points), the rules, as the simpler. Binary accuracy reads each gold as
``refusal_sources.py`` does (three-way gold: partial counts as refusal; content gold:
partial counts as compliance);
purseclab's 41 ambiguous rows are scored as compliance, as everywhere else.

``--card`` writes what ``caic.evals.refusal_model`` reads: the default, and per candidate
its confusion matrix on each held-out group (gold rows x predicted columns; binary gold as
full_refusal / not) and its accuracies. Eval runs record the entry of the classifier that
labelled them; ``caic report`` widens refusal-rate intervals by its matrices.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from refusal_sources import _refused  # noqa: E402

import caic  # noqa: E402
from caic.evals.metrics import wilson  # noqa: E402
from caic.evals.refusal import LABELS  # noqa: E402
from caic.evals.refusal_model import combine  # noqa: E402
from caic.io import write_text_atomic  # noqa: E402

HOWS = ("rules", "model", "override")


def decide(row: dict[str, Any], how: str) -> str:
    if how == "rules":
        return str(row["rules"])
    return combine([row["rules"]], np.array([row["model"]]), how)[0]


def confusion(rows: list[dict[str, Any]], how: str) -> dict[str, Any]:
    """Gold x predicted counts; binary gold (gptfuzz) as full_refusal / not."""
    three = rows[0]["source"] in ("purseclab", "caic-written")
    gold = list(LABELS) if three else ["full_refusal", "not_full_refusal"]
    m = np.zeros((len(gold), len(LABELS)), dtype=int)
    for r in rows:
        g = r["gold"] if three else ("full_refusal" if r["gold"] == "full_refusal" else gold[1])
        m[gold.index(g), LABELS.index(decide(r, how))] += 1
    return {"gold": gold, "predicted": list(LABELS), "counts": m.tolist()}


def row_of(name: str, rows: list[dict[str, Any]], hows: tuple[str, ...]) -> dict[str, float]:
    """Print one table row (binary with Wilson intervals, three-way where the gold has it)
    and return each candidate's binary accuracy."""
    cells, three, acc = [], [], {}
    for h in hows:
        k = sum(_refused(r["gold"], r["source"]) == _refused(decide(r, h), r["source"])
                for r in rows)  # fmt: skip
        lo, hi = wilson(k, len(rows))
        acc[h] = k / len(rows)
        cells.append(f"{k / len(rows):.1%} [{lo:.1%}, {hi:.1%}]")
        if rows[0]["source"] in ("purseclab", "caic-written"):
            three.append(f"{sum(r['gold'] == decide(r, h) for r in rows) / len(rows):.1%}")
    print(f"| {name} | {len(rows)} | " + " | ".join(cells) + f" | {' / '.join(three) or '—'} |")
    return acc


def write_card(groups: dict[str, list[dict[str, Any]]], default: str, out: Path) -> None:
    how = ("leave one source out: trained without the group, measured on it. caic-written: "
           "the project's completions written after the rules (not rules-dev), the model "
           "trained on the public sources alone; caic-written:STEM: one file of them, the "
           "model trained on everything else. Binary gold read as full_refusal / not")  # fmt: skip
    names = {"rules": "caic-refusal-rules", "model": "caic-refusal-minilm",
             "override": "caic-refusal-rules+minilm"}  # fmt: skip
    card: dict[str, Any] = {"default": default}
    for h in HOWS:
        measured = {g: confusion(rows, h) for g, rows in groups.items()}
        accuracy = {}
        for g, rows in groups.items():
            k = sum(_refused(r["gold"], r["source"]) == _refused(decide(r, h), r["source"])
                    for r in rows)  # fmt: skip
            accuracy[g] = {"n": len(rows), "binary": k / len(rows)}
            if measured[g]["gold"] == list(LABELS):
                accuracy[g]["three_way"] = sum(r["gold"] == decide(r, h) for r in rows) / len(rows)
        card[h] = {"name": names[h], "version": f"{caic.__version__}+{date.today().isoformat()}",
                   "how": how, "measured": measured, "accuracy": accuracy}  # fmt: skip
    write_text_atomic(out, json.dumps(card, indent=1) + "\n")
    print(f"wrote {out}", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("loso", type=Path)
    ap.add_argument("--card", type=Path, help="write the classifier card here")
    args = ap.parse_args()
    report = json.loads(args.loso.read_text(encoding="utf-8"))
    hows = HOWS
    groups: dict[str, list[dict[str, Any]]] = {}
    means: dict[str, list[float]] = {h: [] for h in hows}
    print("| held-out group | n | " + " | ".join(hows) + " | three-way " + " / ".join(hows) + " |")
    print("|---|---:|" + "---|" * (len(hows) + 1))
    for held, found in report["held"].items():
        rows = [r for r in found["rows"] if r["gold"] is not None]
        if held == "caic-written":
            rows = [r for r in rows if r["sub"] != "rules-dev"]
        groups[held] = rows
        for h, acc in row_of(held, rows, hows).items():
            means[h].append(acc)
        if held == "purseclab":  # per model, and without the 41 ambiguous rows
            for sub in sorted({r["sub"] for r in rows}):
                row_of(f"  purseclab / {sub}", [r for r in rows if r["sub"] == sub], hows)
            row_of("  purseclab without SV-only", [r for r in rows if not r["ambiguous"]], hows)
    mean = {h: float(np.mean(v)) for h, v in means.items()}
    print("| **mean of the groups** | | " + " | ".join(f"**{mean[h]:.1%}**" for h in hows) + " | |")
    best = max(hows, key=lambda h: mean[h])
    if mean[best] - mean["rules"] < 0.005:
        best = "rules"
    print(f"\ndefault by the criterion: {best}")
    print("\npartial refusals, precision / recall (three-way groups):")
    for g, rows in groups.items():
        if rows[0]["source"] not in ("purseclab", "caic-written"):
            continue
        cells = []
        for h in hows:
            pred = [decide(r, h) == "partial_refusal" for r in rows]
            gold = [r["gold"] == "partial_refusal" for r in rows]
            tp = sum(p and q for p, q in zip(pred, gold, strict=True))
            prec = f"{tp / sum(pred):.0%}" if sum(pred) else "-"
            cells.append(f"{h} {prec} / {tp / max(sum(gold), 1):.0%} ({sum(pred)} predicted)")
        print(
            f"  {g} ({sum(r['gold'] == 'partial_refusal' for r in rows)} gold): " + "; ".join(cells)
        )
    if args.card:
        write_card(groups, best, args.card)
    return 0


if __name__ == "__main__":
    sys.exit(main())
