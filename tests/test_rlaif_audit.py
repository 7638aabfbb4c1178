"""Label audit: every measure against values computed by hand on a tiny set of rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from caic.training.label_audit import KEYS, audit, ece, gold_from_file, render_human


def row(
    rid: str,
    p_f: float | None,
    p_s: float | None,
    a: str,
    b: str,
    gold: str | None,
    principle: str,
    abstained: bool = False,
) -> dict[str, Any]:
    """A label row as ``rlaif label`` writes it (the fields the audit reads)."""
    if abstained:
        return {
            "id": rid, "abstained": True, "chosen": None, "rejected": None,
            "response_a": a, "response_b": b, "chosen_slot": None, "p_a": None,
            "p_forward": None, "p_swapped": None, "consistent": None, "gold": gold,
            "mode": "pairwise", "judge": "hand",
            "votes": [{"principle": principle, "p_a": None, "p_forward": 0.5,
                       "p_swapped": 0.5, "consistent": None, "abstained": True}],
        }  # fmt: skip
    assert p_f is not None and p_s is not None
    p_a = (p_f + p_s) / 2
    slot = "a" if p_a >= 0.5 else "b"
    chosen, rejected = (a, b) if slot == "a" else (b, a)
    consistent = (p_f > 0.5) == (p_s > 0.5)
    return {
        "id": rid, "abstained": False, "chosen_slot": slot, "p_a": p_a,
        "p_forward": p_f, "p_swapped": p_s, "consistent": consistent, "gold": gold,
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
        "mode": "pairwise", "judge": "hand",
        "votes": [{"principle": principle, "p_a": p_a, "p_forward": p_f, "p_swapped": p_s,
                   "consistent": consistent, "abstained": False}],
    }  # fmt: skip


ROWS = [
    row("1", 0.95, 0.85, "a" * 16, "b" * 5, "a", "p1"),  # p_a .9, consistent, longer wins
    row("2", 0.90, 0.45, "a", "bbbb", "b", "p1"),  # p_a .675, inconsistent, shorter wins
    row("3", 0.40, 0.20, "aaa", "bbb", "a", "p2"),  # p_a .3, consistent, same length
    row("4", 0.70, 0.40, "a" * 6, "b", "a", "p2"),  # p_a .55, inconsistent, longer wins
    row("5", None, None, "x", "y", "a", "p1", abstained=True),
]


def test_ece_by_hand() -> None:
    # one item per bin: |1-.9| + |0-.675| + |1-.3| + |1-.55|, over 4
    assert ece([1, 0, 1, 1], [0.9, 0.675, 0.3, 0.55]) == pytest.approx(1.925 / 4)
    # two items sharing bin 7: |mean(y) - mean(p)| = |0.5 - 0.75|
    assert ece([1, 0], [0.72, 0.78]) == pytest.approx(0.25)
    assert ece([1], [1.0]) == pytest.approx(0.0)  # p = 1 falls in the last bin
    assert ece([0, 1], [0.0, 0.05]) == pytest.approx(0.475)  # bin 0: |0.5 - 0.025|


def test_overall_measures_by_hand() -> None:
    m = audit(ROWS)
    assert (m["n"], m["n_labelled"], m["n_gold"]) == (5, 4, 4)
    assert m["abstention_rate"] == pytest.approx(0.2)
    assert m["position_consistency"] == pytest.approx(0.5)
    assert m["first_slot_rate"] == pytest.approx(0.75)  # forward .95 .9 .4 .7
    assert m["length_bias"] == pytest.approx(2 / 3)  # rows 1 and 4 of 1, 2, 4
    # predictions a a b a against gold a b a a
    assert m["accuracy"] == pytest.approx(0.5)
    # po = .5; pe = .75·.75 + .25·.25 = .625; κ = (.5 - .625) / (1 - .625)
    assert m["kappa"] == pytest.approx(-1 / 3)
    assert m["ece"] == pytest.approx(1.925 / 4)
    # ((1-.9)² + (0-.675)² + (1-.3)² + (1-.55)²) / 4
    assert m["brier"] == pytest.approx((0.01 + 0.455625 + 0.49 + 0.2025) / 4)
    assert set(KEYS) <= set(m)


def test_per_principle_measures_by_hand() -> None:
    per = audit(ROWS)["per_principle"]
    assert set(per) == {"p1", "p2"}
    p1, p2 = per["p1"], per["p2"]
    assert (p1["n"], p1["n_labelled"]) == (3, 2) and p1["abstention_rate"] == pytest.approx(1 / 3)
    assert p1["first_slot_rate"] == 1.0 and p2["first_slot_rate"] == 0.5
    assert p1["position_consistency"] == 0.5 == p2["position_consistency"]
    assert p1["accuracy"] == 0.5 and p2["accuracy"] == 0.5
    # p2: gold a a, predicted b a: po = .5, pe = 1·.5 + 0·.5 = .5 → κ = 0
    assert p2["kappa"] == pytest.approx(0.0)
    assert p2["brier"] == pytest.approx(((1 - 0.3) ** 2 + (1 - 0.55) ** 2) / 2)


def test_without_gold_only_label_measures() -> None:
    m = audit([{**r, "gold": None} for r in ROWS])
    assert m["accuracy"] is None and m["kappa"] is None and m["ece"] is None
    assert m["position_consistency"] == pytest.approx(0.5)
    # gold supplied by id overrides
    m = audit([{**r, "gold": None} for r in ROWS], {"1": "a", "3": "a"})
    assert m["n_gold"] == 2 and m["accuracy"] == pytest.approx(0.5)


def test_kappa_is_null_when_undefined() -> None:
    rows = [row("1", 0.9, 0.9, "x", "y", "a", "p"), row("2", 0.8, 0.8, "x", "y", "a", "p")]
    m = audit(rows)
    assert m["accuracy"] == 1.0 and m["kappa"] is None  # one class on both sides


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_gold_file_by_slot_or_by_matching_text(tmp_path: Path) -> None:
    rows = [{**r, "gold": None} for r in ROWS]
    slots = write(tmp_path / "g.jsonl", [{"id": "1", "gold": "b"}, {"id": "2", "gold": "a"}])
    assert gold_from_file(str(slots), rows) == {"1": "b", "2": "a"}
    # a TRL file: the human-preferred text is found in whichever slot the label row has it
    trl = write(tmp_path / "trl.jsonl", [
        {"id": "1", "prompt": "q", "chosen": "b" * 5, "rejected": "a" * 16},
        {"id": "4", "prompt": "q", "chosen": "a" * 6, "rejected": "b"},
        {"id": "5", "prompt": "q", "chosen": "y", "rejected": "x"},
        {"id": "9", "prompt": "q", "chosen": "zz", "rejected": "z"},
    ])  # fmt: skip
    assert gold_from_file(str(trl), rows) == {"1": "b", "4": "a", "5": "b"}


def test_cli_audit_json_and_human(tmp_path: Path) -> None:
    from caic.cli import (
        app,
        commands,  # noqa: F401
    )

    labels = write(tmp_path / "labels.jsonl", ROWS)
    res = CliRunner().invoke(app, ["rlaif", "audit", "--labels", str(labels), "--format", "json"])
    assert res.exit_code == 0, res.output
    m = json.loads(res.stdout)
    for key in (*KEYS, "per_principle", "n"):
        assert key in m
    assert m["kappa"] == pytest.approx(-1 / 3)
    res = CliRunner().invoke(app, ["rlaif", "audit", "--labels", str(labels)])
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    assert lines[0].startswith("5 pairs, 4 labelled, 4 with gold; judge hand")
    assert lines[2].split()[:3] == ["overall", "5", "0.500"]
    assert [ln.split()[0] for ln in lines[3:]] == ["p1", "p2"]
    assert render_human(audit(ROWS)) == res.stdout.rstrip("\n")
    gold = write(tmp_path / "g.jsonl", [{"id": "1", "gold": "b"}])
    res = CliRunner().invoke(
        app, ["rlaif", "audit", "--labels", str(labels), "--gold", str(gold), "--format", "json"]
    )
    assert json.loads(res.stdout)["accuracy"] == pytest.approx(0.25)  # row 1 now wrong
