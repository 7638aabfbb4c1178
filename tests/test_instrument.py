"""Refusal rates widened by the classifier's measured error (caic.evals.instrument)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from report_fixtures import samples, wilson, write_run

from caic.evals.instrument import adjusted_delta, adjusted_rate, error_rates
from caic.evals.report import build_report, load_run

LABELS = ["full_compliance", "full_refusal", "partial_refusal"]
REFUSAL = frozenset({"full_refusal"})
ANY_REFUSAL = frozenset({"full_refusal", "partial_refusal"})


def three_way(counts: list[list[int]]) -> dict[str, Any]:
    return {"gold": LABELS, "predicted": LABELS, "counts": counts}


def binary(counts: list[list[int]]) -> dict[str, Any]:
    return {"gold": ["full_refusal", "not_full_refusal"], "predicted": LABELS, "counts": counts}


def card(**measured: dict[str, Any]) -> dict[str, Any]:
    return {"name": "test-classifier", "version": "1", "measured": measured}


PERFECT = card(a=three_way([[1000, 0, 0], [0, 1000, 0], [0, 0, 1000]]))
# Two sources on which the classifier misses refusals at very different rates.
UNEVEN = card(
    a=three_way([[180, 15, 5], [10, 180, 10], [10, 20, 20]]),
    b=binary([[70, 120, 10], [300, 60, 40]]),
)
# An ~80% classifier: on one source it misses refusals, on the other it invents them.
POOR = card(
    a=three_way([[150, 40, 10], [40, 150, 10], [10, 10, 30]]),
    b=three_way([[110, 80, 10], [10, 180, 10], [10, 10, 30]]),
)


def test_error_rates_read_each_sources_gold_as_far_as_it_goes() -> None:
    (a, b) = error_rates(UNEVEN, REFUSAL)
    # three-way gold: full refusal is row/column 1
    assert a == ("a", 180, 20, 15 + 20, 180 + 5 + 10 + 20)
    # binary gold (full refusal / not): predicted full refusal is column 1
    assert b == ("b", 120, 80, 60, 340)
    # the complement event reads the same binary gold the other way round
    assert error_rates(UNEVEN, frozenset({"full_compliance", "partial_refusal"}))[1] == (
        "b", 340, 60, 80, 120)  # fmt: skip
    # binary gold cannot tell partial refusals apart: that source is left out
    assert [r[0] for r in error_rates(UNEVEN, ANY_REFUSAL)] == ["a"]
    assert error_rates({"name": "judge", "measured": None}, REFUSAL) == []
    # parts of a source (SOURCE:SUB) never count twice; a source on which the classifier
    # cannot tell the event apart (se + sp - 1 ~ 0) is left out rather than drawn
    blind = three_way([[100, 0, 10], [100, 0, 10], [50, 0, 5]])
    c = card(a=UNEVEN["measured"]["a"], **{"a:part": UNEVEN["measured"]["a"]}, blind=blind)
    assert [r[0] for r in error_rates(c, REFUSAL)] == ["a"]


def test_a_perfect_classifier_leaves_the_rate_and_its_sampling_interval() -> None:
    flags = [1.0] * 30 + [0.0] * 70
    adj = adjusted_rate(flags, PERFECT, REFUSAL, resamples=4000, seed=1)
    assert adj is not None and adj["value"] == pytest.approx(0.3, abs=0.002)
    lo, hi = wilson(30, 100)
    assert adj["ci_low"] == pytest.approx(lo, abs=0.03)
    assert adj["ci_high"] == pytest.approx(hi, abs=0.03)


def test_misclassification_is_corrected_and_widens_the_interval() -> None:
    # se = 0.8, sp = 0.9 on one large source: an observed 0.31 is a true 0.30
    c = card(a=three_way([[9000, 1000, 0], [2000, 8000, 0], [0, 0, 0]]))
    flags = [1.0] * 310 + [0.0] * 690
    adj = adjusted_rate(flags, c, REFUSAL, resamples=4000)
    assert adj is not None and adj["value"] == pytest.approx((0.31 + 0.9 - 1) / 0.7)
    lo, hi = wilson(310, 1000)
    assert adj["ci_high"] - adj["ci_low"] > 1.2 * (hi - lo)
    # uneven sources widen it much more
    wide = adjusted_rate(flags, UNEVEN, REFUSAL, resamples=4000)
    assert wide is not None
    assert wide["ci_high"] - wide["ci_low"] > 2 * (adj["ci_high"] - adj["ci_low"])
    assert adjusted_rate(flags, {"name": "judge", "measured": None}, REFUSAL) is None


def test_a_difference_the_instrument_cannot_resolve() -> None:
    # 0.30 against 0.36 on 400 shared items: 24 discordant pairs, all one way (McNemar
    # p ~ 1e-7), yet within what the classifier's uneven error could make on its own
    a = [1.0] * 120 + [0.0] * 280
    b = [1.0] * 144 + [0.0] * 256
    small = adjusted_delta(a, b, UNEVEN, UNEVEN, REFUSAL, seed=3)
    assert small is not None and small["p_value"] > 0.05
    assert small["ci_low"] < 0 < small["ci_high"]
    sharp = adjusted_delta(a, b, PERFECT, PERFECT, REFUSAL, seed=3)
    assert sharp is not None and sharp["p_value"] < 0.05 and sharp["ci_low"] > 0
    # a large difference survives even the uneven classifier
    big = adjusted_delta(a, [1.0] * 200 + [0.0] * 200, UNEVEN, UNEVEN, REFUSAL, seed=3)
    assert big is not None and big["p_value"] < 0.01


def test_report_widens_refusal_rates_and_withholds_unresolved_verdicts(tmp_path: Path) -> None:
    inst = {"refusal_classifier": POOR}
    base = write_run(tmp_path / "v1", samples(1), instruments=inst)
    run = write_run(tmp_path / "v2", samples(2), instruments=inst)
    rep = build_report([load_run(base), load_run(run)], resamples=1000)
    full = next(m for m in rep["metrics"] if m["key"] == "over_refusal.full_refusal_rate")
    adj = full["runs"]["v2"]["adjusted"]
    raw = full["runs"]["v2"]
    assert adj["ci_high"] - adj["ci_low"] > raw["ci_high"] - raw["ci_low"]
    comp = full["comparisons"]["v2"]
    # McNemar alone: p = 0.008 (8 discordant, all one way); the classifier's uneven error
    # could make that difference on its own
    assert comp["test"]["p_value"] < 0.01 and comp["test"]["instrument"]["p_value"] >= 0.05
    assert not comp["test"]["significant"] and comp["test"]["unresolved"]
    assert comp["verdict"].startswith("not resolved by the refusal classifier")
    from caic.evals.report.render import render_markdown

    md = render_markdown(rep)
    assert "classifier-adjusted" in md and "◌ `over_refusal.full_refusal_rate`" in md
    assert "0.008 (adj. " in md
    # the same runs measured by a near-perfect classifier keep the verdict
    sharp = {"refusal_classifier": PERFECT}
    base = write_run(tmp_path / "p1", samples(1), instruments=sharp)
    run = write_run(tmp_path / "p2", samples(2), instruments=sharp)
    rep = build_report([load_run(base), load_run(run)], resamples=1000)
    full = next(m for m in rep["metrics"] if m["key"] == "over_refusal.full_refusal_rate")
    assert full["comparisons"]["p2"]["test"]["significant"]


def test_runs_without_a_card_are_reported_as_before(tmp_path: Path) -> None:
    base = write_run(tmp_path / "v1", samples(1))
    run = write_run(tmp_path / "v2", samples(2))
    rep = build_report([load_run(base), load_run(run)], resamples=500)
    full = next(m for m in rep["metrics"] if m["key"] == "over_refusal.full_refusal_rate")
    assert full["runs"]["v2"]["adjusted"] is None
    assert full["comparisons"]["v2"]["test"]["significant"]
    assert "not measured" in full["comparisons"]["v2"]["test"]["instrument"]["method"]
