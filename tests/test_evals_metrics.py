"""Interval and metric maths: Wilson by hand, bootstrap reproducibility, κ/ECE/Brier."""

from __future__ import annotations

import math

import pytest

from caic.evals.metrics import (
    Metric,
    bootstrap_ci,
    cohen_kappa,
    compute,
    expected_calibration_error,
    mean,
    score,
    wilson,
)
from caic.evals.suites import SUITES


def test_wilson_matches_a_hand_computed_interval() -> None:
    # 8 of 10, z = 1.96: centre = (0.8 + 1.96²/20) / (1 + 1.96²/10) = 0.716741...,
    # half = 1.96 / 1.38416 * sqrt(0.8*0.2/10 + 1.96²/400) = 0.226581...
    lo, hi = wilson(8, 10, z=1.96)
    assert lo == pytest.approx(0.490161, abs=1e-5)
    assert hi == pytest.approx(0.943322, abs=1e-5)


def test_wilson_edges() -> None:
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    lo, hi = wilson(0, 10)
    assert 0.0 < hi < 0.35  # still an interval, not a point
    assert wilson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson(11, 10)


def test_wilson_default_z_is_the_exact_normal_quantile() -> None:
    # the default z is the exact 97.5% normal quantile
    from scipy.stats import norm

    z = float(norm.ppf(0.975))
    assert wilson(37, 120) == pytest.approx(wilson(37, 120, z=z), abs=1e-12)


def test_bootstrap_is_reproducible_and_brackets_the_mean() -> None:
    values = [0.1, 0.5, 0.9, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 1.0]
    a = bootstrap_ci(values, mean, seed=7)
    b = bootstrap_ci(values, mean, seed=7)
    c = bootstrap_ci(values, mean, seed=8)
    assert a == b
    assert a != c
    assert a[0] is not None and a[1] is not None
    assert a[0] < sum(values) / len(values) < a[1]


def test_bootstrap_drops_undefined_resamples() -> None:
    assert bootstrap_ci([], mean) == (None, None)
    assert bootstrap_ci([1.0, 2.0], lambda xs: None) == (None, None)


def test_kappa_matches_sklearn() -> None:
    from sklearn.metrics import cohen_kappa_score

    pred = list("aabbabbaab") + ["tie"]
    gold = list("abbbaabaaa") + ["a"]
    assert cohen_kappa(list(zip(pred, gold, strict=True))) == pytest.approx(
        cohen_kappa_score(pred, gold), abs=1e-12
    )
    assert cohen_kappa([("a", "a"), ("a", "a")]) is None  # undefined: one label only


def test_ece_by_hand() -> None:
    # bin 0.6-0.7: conf 0.6, 0.6 with 1 right -> |0.5 - 0.6| * 2/4;
    # bin 0.9-1.0: conf 0.9, 1.0 with 2 right -> |1.0 - 0.95| * 2/4
    items = [(0.6, True), (0.6, False), (0.9, True), (1.0, True)]
    assert expected_calibration_error(items) == pytest.approx(0.1 * 0.5 + 0.05 * 0.5)
    assert expected_calibration_error([]) is None


def test_brier_metric_matches_sklearn() -> None:
    from sklearn.metrics import brier_score_loss

    brier = next(m for m in SUITES["label-agreement"].metrics if m.name == "brier")
    ps = [0.9, 0.4, 0.55, 0.2]
    samples = [{"category": "x", "scores": {"p_chosen": p}} for p in ps]
    assert brier.summarise(samples)["value"] == pytest.approx(
        brier_score_loss([1, 1, 1, 1], ps), abs=1e-12
    )


def _samples() -> list[dict[str, object]]:
    outcomes = {"red": [True, True, False], "blue": [False, False, False, True], "green": []}
    out: list[dict[str, object]] = []
    for cat, vals in outcomes.items():
        for v in vals:
            out.append({"category": cat, "scores": {"x": v}})
    out.append({"category": "green", "scores": {"x": None}})  # not part of the metric
    return out


def test_proportion_report_overall_and_per_category() -> None:
    m = Metric("x_rate", False, "test", score("x"))
    rep = m.report(_samples())
    assert rep["value"] == pytest.approx(3 / 7) and rep["n"] == 7
    assert (rep["ci_low"], rep["ci_high"]) == pytest.approx(wilson(3, 7))
    assert rep["higher_is_better"] is False
    assert set(rep["per_category"]) == {"red", "blue"}  # green has no counted item
    assert rep["per_category"]["red"] == {
        "value": pytest.approx(2 / 3),
        "ci_low": pytest.approx(wilson(2, 3)[0]),
        "ci_high": pytest.approx(wilson(2, 3)[1]),
        "n": 3,
    }


def test_statistic_report_uses_the_bootstrap_and_empty_metrics_are_null() -> None:
    m = Metric("mean_x", True, "test", score("x"), kind="statistic", stat=mean)
    rep = m.report(_samples(), seed=1)
    assert rep["value"] == pytest.approx(3 / 7)
    assert (rep["ci_low"], rep["ci_high"]) == bootstrap_ci(
        [True, True, False, False, False, False, True], mean, seed=1
    )
    empty = m.report([{"category": "a", "scores": {}}])
    assert empty["value"] is None and empty["n"] == 0 and empty["per_category"] == {}


def test_every_declared_metric_has_a_direction_and_the_contract_names() -> None:
    names = {s.key: [m.name for m in s.metrics] for s in SUITES.values()}
    assert names == {
        "harmlessness": ["harmful_compliance_rate", "full_refusal_rate", "partial_refusal_rate"],
        "over_refusal": [
            "over_refusal_rate",
            "full_refusal_rate",
            "partial_refusal_rate",
            "unsafe_compliance_rate",
        ],
        "sycophancy": ["first_answer_accuracy", "flip_rate", "accuracy_suggested", "accuracy_drop"],
        "label_agreement": [
            "accuracy",
            "kappa",
            "position_consistency",
            "first_slot_rate",
            "ece",
            "brier",
            "abstention_rate",
        ],
    }
    for s in SUITES.values():
        for m in s.metrics:
            assert isinstance(m.higher_is_better, bool) and m.description


def test_compute_returns_json_able_floats() -> None:
    out = compute([Metric("x_rate", True, "t", score("x"))], _samples())
    assert all(
        isinstance(v, float) and math.isfinite(v)
        for v in (out["x_rate"]["value"], out["x_rate"]["ci_low"], out["x_rate"]["ci_high"])
    )
