"""Metric declarations and their 95% intervals.

A :class:`Metric` names how one number is computed from the per-item ``scores`` of a
run's samples, whether higher is better, and which interval it gets:

- ``proportion``: the mean of a per-item yes/no outcome, with a **Wilson score
  interval** (good coverage at small n and near 0 or 1, unlike the normal approximation);
- ``statistic``: any other function of per-item values (Cohen's κ, ECE, a paired
  difference), with a **percentile bootstrap** interval over items, seeded so the same
  samples give the same interval.

Items for which a metric's ``item`` function returns ``None`` are not part of it (e.g.
the flip rate counts only items answered correctly first). Every metric is reported
overall and per category, as ``{"value", "ci_low", "ci_high", "n"}``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Z95 = 1.959963984540054
"""The 97.5th percentile of the standard normal: a two-sided 95% interval."""
RESAMPLES = 1000
"""Bootstrap resamples per interval."""

Sample = dict[str, Any]


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for ``k`` successes in ``n`` trials (``(0, 1)`` when n is 0)."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # Rounded so that exact 0 and 1 come out as such rather than 0.9999999999999999.
    return max(0.0, round(centre - half, 12)), min(1.0, round(centre + half, 12))


def bootstrap_ci(
    values: Sequence[Any],
    stat: Callable[[Sequence[Any]], float | None],
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> tuple[float | None, float | None]:
    """Percentile bootstrap 95% interval of ``stat`` over items (resampled with replacement).

    Resamples where the statistic is undefined (``None`` or NaN, e.g. κ when one
    label is constant) are dropped; no interval (``None``) if all of them are.
    """
    import numpy as np

    n = len(values)
    if n == 0:
        return None, None
    rng = np.random.Generator(np.random.PCG64(seed))
    idx = rng.integers(0, n, size=(resamples, n))
    stats = []
    for row in idx:
        v = stat([values[i] for i in row])
        if v is not None and not math.isnan(v):
            stats.append(v)
    if not stats:
        return None, None
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return float(lo), float(hi)


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Cohen's κ between two raters (``(rater1, rater2)`` per item); ``None`` if undefined.

    Same value as ``sklearn.metrics.cohen_kappa_score`` (checked in the tests), written
    out so the bootstrap does not pay sklearn's per-call overhead a thousand times.
    """
    n = len(pairs)
    if n == 0:
        return None
    labels = sorted({x for p in pairs for x in p})
    observed = sum(a == b for a, b in pairs) / n
    expected = sum(
        (sum(a == lab for a, _ in pairs) / n) * (sum(b == lab for _, b in pairs) / n)
        for lab in labels
    )
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def expected_calibration_error(items: Sequence[tuple[float, bool]], bins: int = 10) -> float | None:
    """ECE: Σ_bins (n_bin / n) · |accuracy_bin − mean confidence_bin|, equal-width bins.

    ``items`` are ``(confidence in the predicted answer, whether it was right)``;
    confidence 1.0 falls in the last bin.
    """
    if not items:
        return None
    totals = [[0, 0.0, 0.0] for _ in range(bins)]
    for conf, right in items:
        b = min(int(conf * bins), bins - 1)
        totals[b][0] += 1
        totals[b][1] += conf
        totals[b][2] += float(right)
    n = len(items)
    return sum(abs(c_sum - r_sum) / n for k, c_sum, r_sum in totals if k)


@dataclass(frozen=True)
class Metric:
    """One declared metric of a suite."""

    name: str
    """Key in the manifest's ``metrics[suite]`` object."""
    higher_is_better: bool
    """Direction of improvement, for reports and gates."""
    description: str
    """One line: what the number means."""
    item: Callable[[Sample], Any]
    """Per-sample value (from ``sample["scores"]``/``["input"]``); ``None`` = not counted."""
    kind: Literal["proportion", "statistic"] = "proportion"
    """``proportion`` (item gives a bool; Wilson) or ``statistic`` (``stat``; bootstrap)."""
    stat: Callable[[Sequence[Any]], float | None] | None = None
    """For statistics: the function of the per-item values (default: their mean)."""

    def summarise(self, samples: Sequence[Sample], seed: int = 0) -> dict[str, Any]:
        """``{"value", "ci_low", "ci_high", "n"}`` over ``samples`` (value None when n is 0)."""
        values = [v for v in (self.item(s) for s in samples) if v is not None]
        n = len(values)
        if n == 0:
            return {"value": None, "ci_low": None, "ci_high": None, "n": 0}
        if self.kind == "proportion":
            k = sum(bool(v) for v in values)
            lo, hi = wilson(k, n)
            return {"value": k / n, "ci_low": lo, "ci_high": hi, "n": n}
        stat = self.stat or mean
        value = stat(values)
        if value is None or math.isnan(value):
            return {"value": None, "ci_low": None, "ci_high": None, "n": n}
        lo2, hi2 = bootstrap_ci(values, stat, seed=seed)
        return {"value": float(value), "ci_low": lo2, "ci_high": hi2, "n": n}

    def report(self, samples: Sequence[Sample], seed: int = 0) -> dict[str, Any]:
        """The manifest entry: overall, ``higher_is_better`` and ``per_category``."""
        out = self.summarise(samples, seed)
        out["higher_is_better"] = self.higher_is_better
        by_cat: dict[str, list[Sample]] = {}
        for s in samples:
            by_cat.setdefault(str(s.get("category")), []).append(s)
        per: dict[str, Any] = {}
        for cat in sorted(by_cat):
            summary = self.summarise(by_cat[cat], seed)
            if summary["n"]:
                per[cat] = summary
        out["per_category"] = per
        return out


def compute(metrics: Sequence[Metric], samples: Sequence[Sample], seed: int = 0) -> dict[str, Any]:
    """``{metric name: manifest entry}`` for one suite's samples."""
    return {m.name: m.report(samples, seed) for m in metrics}


def score(key: str) -> Callable[[Sample], Any]:
    """Item function reading ``sample["scores"][key]``."""
    return lambda s: s["scores"].get(key)
