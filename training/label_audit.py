"""Audit AI preference labels: position bias, length bias, abstention, and agreement with gold.

Label-only measures (need no human labels), over rows that carry a label:

- ``position_consistency``: share of rows judged in both orders whose forward and
  swapped estimates pick the same response (higher is better; 0 = the judge follows
  the slot, not the content).
- ``first_slot_rate``: share of rows where slot A wins in the forward order, before
  any averaging (0.5 is unbiased when the inputs' slots are shuffled).
- ``length_bias``: share of rows, among those whose responses differ in length, where
  the longer response (in characters) was labelled chosen (0.5 = no length preference).
- ``abstention_rate``: share of all rows where the judge chose neither option.

With gold (human) preferences, from ``gold`` in the rows or a ``--gold`` file matched by id:

- ``accuracy``: share of labelled rows whose ``chosen`` is the human-preferred response.
- ``kappa``: Cohen's κ between the labelled and the gold slot (sklearn).
- ``ece``: expected calibration error of the soft label P(response_a better) against
  the outcome "gold is a", with 10 equal-width bins on [0, 1] (the last closed):
  Σ_bins (n_bin / N) · |mean(outcome) − mean(p)|. Lower is better.
- ``brier``: mean squared error of the same probability (sklearn ``brier_score_loss``).

Every measure is also given per principle, from that principle's own verdicts
(``votes``), so a principle the judge cannot apply shows up on its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from caic.errors import usage_error

ECE_BINS = 10
Metrics = dict[str, Any]


def ece(y: Sequence[int], p: Sequence[float], bins: int = ECE_BINS) -> float:
    """Expected calibration error of probabilities ``p`` for binary outcomes ``y``."""
    if len(y) != len(p):
        raise ValueError("y and p differ in length")
    if not y:
        return math.nan
    counts = [0] * bins
    hits = [0.0] * bins
    conf = [0.0] * bins
    for yi, pi in zip(y, p, strict=True):
        b = min(int(pi * bins), bins - 1)
        counts[b] += 1
        hits[b] += yi
        conf[b] += pi
    n = len(y)
    return sum(abs(hits[b] - conf[b]) / n for b in range(bins) if counts[b])


def _rate(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _judgements(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Row-level judgements: one per labelled row, with slot texts recovered."""
    out = []
    for r in rows:
        if r.get("abstained"):
            continue
        chosen = (r.get("chosen") or [{}])[-1].get("content", "")
        rejected = (r.get("rejected") or [{}])[-1].get("content", "")
        a, b = (chosen, rejected) if r.get("chosen_slot") == "a" else (rejected, chosen)
        out.append({**r, "_a": a, "_b": b})
    return out


def _metrics(items: list[dict[str, Any]], n_all: int, n_abstained: int) -> Metrics:
    """Measures over judgement items ``{p_a, p_forward, p_swapped, consistent, _a, _b, gold}``."""
    consistent = [bool(i["consistent"]) for i in items if i.get("consistent") is not None]
    first = [i["p_forward"] > 0.5 for i in items if i.get("p_forward") is not None]
    longer = []
    for i in items:
        la, lb = len(i["_a"]), len(i["_b"])
        if la != lb:
            a_wins = i["p_a"] >= 0.5
            longer.append(a_wins == (la > lb))
    m: Metrics = {
        "n": n_all,
        "n_labelled": len(items),
        "position_consistency": _rate(consistent),
        "first_slot_rate": _rate(first),
        "length_bias": _rate(longer),
        "abstention_rate": n_abstained / n_all if n_all else None,
    }
    m.update(_gold_metrics(items))
    return m


def _gold_metrics(items: list[dict[str, Any]]) -> Metrics:
    scored = [i for i in items if i.get("gold") in ("a", "b")]
    out: Metrics = {"n_gold": len(scored), "accuracy": None, "kappa": None, "ece": None,
                    "brier": None}  # fmt: skip
    if not scored:
        return out
    from sklearn.metrics import brier_score_loss, cohen_kappa_score

    gold = [i["gold"] for i in scored]
    pred = ["a" if i["p_a"] >= 0.5 else "b" for i in scored]
    y = [1 if g == "a" else 0 for g in gold]
    p = [float(i["p_a"]) for i in scored]
    out["accuracy"] = sum(g == q for g, q in zip(gold, pred, strict=True)) / len(scored)
    if len(set(gold) | set(pred)) > 1:
        kappa = float(cohen_kappa_score(gold, pred, labels=["a", "b"]))
        out["kappa"] = None if math.isnan(kappa) else kappa
    out["ece"] = ece(y, p)
    out["brier"] = float(brier_score_loss(y, p, pos_label=1, labels=[0, 1]))
    return out


def audit(rows: list[dict[str, Any]], gold: dict[str, str] | None = None) -> Metrics:
    """All measures, overall and per principle; ``gold`` (``{id: "a"|"b"}``) overrides rows'."""
    if gold:
        rows = [{**r, "gold": gold.get(str(r["id"]), r.get("gold"))} for r in rows]
    items = _judgements(rows)
    n_abstained = sum(1 for r in rows if r.get("abstained"))
    overall = _metrics(items, len(rows), n_abstained)
    per: dict[str, Metrics] = {}
    names = sorted({v["principle"] for r in rows for v in r.get("votes", [])})
    for name in names:
        votes: list[dict[str, Any]] = []
        total = abstained = 0
        for r in rows:
            for v in r.get("votes", []):
                if v["principle"] != name:
                    continue
                total += 1
                if v["abstained"] or v.get("p_a") is None:
                    abstained += 1
                    continue
                a, b = _slot_texts(r)
                votes.append({**v, "gold": r.get("gold"), "_a": a, "_b": b})
        per[name] = _metrics(votes, total, abstained)
    modes = sorted({str(r.get("mode")) for r in rows})
    judges = sorted({str(r.get("judge")) for r in rows})
    return {**overall, "mode": modes, "judge": judges, "per_principle": per}


def _slot_texts(r: dict[str, Any]) -> tuple[str, str]:
    if r.get("abstained"):
        return str(r.get("response_a") or ""), str(r.get("response_b") or "")
    chosen = (r.get("chosen") or [{}])[-1].get("content", "")
    rejected = (r.get("rejected") or [{}])[-1].get("content", "")
    return (chosen, rejected) if r.get("chosen_slot") == "a" else (rejected, chosen)


def gold_from_file(path: str, rows: list[dict[str, Any]]) -> dict[str, str]:
    """``{id: gold slot}`` for the label rows, from a file of human preferences.

    The file is either ``{id, gold: "a"|"b"}`` rows (slots as in the labelled input),
    or any pair file ``load_pairs`` reads (TRL chosen/rejected, HH-RLHF, LLMBar ...);
    then the human-preferred *text* is matched against each label row's two
    responses, so the slots need not line up. Ids or texts that do not match are left out.
    """
    from caic.io import read_jsonl

    direct: dict[str, str] = {}
    if path.removesuffix(".gz").endswith(".jsonl"):
        for line, row in read_jsonl(path):
            if row.get("gold") in ("a", "b") and "response_a" not in row:
                if "id" not in row:
                    raise usage_error("a gold row needs an `id`", path=path, line=line, code="E006")
                direct[str(row["id"])] = row["gold"]
    if direct:
        return direct
    from caic.compiler.data import load_pairs

    preferred = {
        p["id"]: p["response_a"] if p["gold"] == "a" else p["response_b"]
        for p in load_pairs(path)
        if p.get("gold") in ("a", "b")
    }
    out: dict[str, str] = {}
    for r in rows:
        text = preferred.get(str(r["id"]))
        if text is None:
            continue
        a, b = _slot_texts(r)
        if text.strip() == a.strip() and a.strip() != b.strip():
            out[str(r["id"])] = "a"
        elif text.strip() == b.strip() and a.strip() != b.strip():
            out[str(r["id"])] = "b"
    return out


KEYS = ("position_consistency", "first_slot_rate", "length_bias", "abstention_rate",
        "accuracy", "kappa", "ece", "brier")  # fmt: skip


def render_human(m: Metrics) -> str:
    """A plain table: overall, then one line per principle."""

    def cell(x: Any) -> str:
        return "-" if x is None else f"{x:.3f}"

    head = ["", "n", *KEYS]
    lines = [head]
    lines.append(["overall", str(m["n"]), *(cell(m[k]) for k in KEYS)])
    for name, pm in m["per_principle"].items():
        lines.append([name, str(pm["n"]), *(cell(pm[k]) for k in KEYS)])
    short = {"position_consistency": "pos_consist", "first_slot_rate": "first_slot",
             "length_bias": "len_bias", "abstention_rate": "abstain"}  # fmt: skip
    lines[0] = [short.get(h, h) for h in head]
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    text = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in lines
    ]
    judge = ", ".join(m.get("judge", [])) or "?"
    mode = ", ".join(m.get("mode", [])) or "?"
    gold = f"{m['n_gold']} with gold" if m["n_gold"] else "no gold labels"
    summary = f"{m['n']} pairs, {m['n_labelled']} labelled, {gold}; judge {judge}, mode {mode}"
    return "\n".join([summary, *text])
