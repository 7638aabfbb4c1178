"""Paired significance tests for comparing two eval runs on the items they share.

* Binary outcomes (harmful or not, refused or not, correct or not): the **exact
  McNemar test** — a two-sided binomial test at 1/2 on the discordant pairs only
  (items where exactly one run has the outcome). Computed exactly with integers here,
  so ``caic report`` needs no SciPy; the tests check it against
  ``scipy.stats.binomtest``.
* Anything else (a per-item probability, a score, or a statistic such as Cohen's κ or
  ECE): a **paired bootstrap** — resample the shared items with replacement (the same
  indices for both runs), recompute the difference, and take the
  two-sided p-value from the resampled differences shifted to the null
  (p = (1 + #{|d* − d| ≥ |d|}) / (B + 1)), with a percentile interval for the
  difference. Seeded, so the same inputs give the same p-value. With fewer than
  :data:`SMALL_N` shared items the bootstrap p-value is optimistic, so the p-value then
  comes from the exact **paired permutation test** (swap each item's two values or not;
  all 2^n patterns when that is few enough), while the interval is still the bootstrap's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

ALPHA = 0.05
"""p-values below this are called significant in verdicts (no multiple-comparison correction)."""


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b`` and ``c``.

    ``b`` = items where only the first run has the outcome, ``c`` = only the second.
    Equal to ``scipy.stats.binomtest(b, b + c, 0.5).pvalue``; 1.0 when there are none.
    """
    if b < 0 or c < 0:
        raise ValueError("counts must be non-negative")
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return min(1.0, 2 * tail / 2**n)


@dataclass(frozen=True)
class Bootstrap:
    """Result of a paired bootstrap of the difference of means (second − first)."""

    delta: float
    """Observed difference of means on the shared items."""
    ci_low: float
    """2.5th percentile of the resampled differences."""
    ci_high: float
    """97.5th percentile of the resampled differences."""
    p_value: float
    """Two-sided p-value for "no difference"."""
    n: int
    """Number of paired items."""
    resamples: int
    """Bootstrap resamples drawn."""


def paired_bootstrap(
    first: Sequence[float], second: Sequence[float], resamples: int = 2000, seed: int = 0
) -> Bootstrap:
    """Paired bootstrap of ``mean(second) − mean(first)`` over aligned items."""
    import numpy as np

    a = np.asarray(first, dtype=np.float64)
    b = np.asarray(second, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError("paired samples must have the same length")
    n = len(a)
    if n == 0:
        return Bootstrap(0.0, 0.0, 0.0, 1.0, 0, resamples)
    d = b - a
    observed = float(d.mean())
    rng = np.random.Generator(np.random.PCG64(seed))
    idx = rng.integers(0, n, size=(resamples, n))
    boots = d[idx].mean(axis=1)
    extreme = int(np.sum(np.abs(boots - observed) >= abs(observed) - 1e-12))
    p = (1 + extreme) / (resamples + 1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return Bootstrap(observed, float(lo), float(hi), min(1.0, p), n, resamples)


def format_p(p: float) -> str:
    """``p = 0.003``, or ``p < 0.001``."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def paired_bootstrap_stat(
    first: Sequence[Any],
    second: Sequence[Any],
    stat: Callable[[Sequence[Any]], float | None],
    resamples: int = 2000,
    seed: int = 0,
) -> Bootstrap:
    """Paired bootstrap of ``stat(second) − stat(first)`` for a statistic that is not a mean.

    Both runs are resampled with the same item indices (κ, ECE, ...). Resamples where
    either statistic is undefined are dropped; with none left the p-value is 1.
    """
    import numpy as np

    if len(first) != len(second):
        raise ValueError("paired samples must have the same length")
    n = len(first)
    sa, sb = stat(list(first)), stat(list(second))
    if n == 0 or sa is None or sb is None:
        return Bootstrap(0.0, 0.0, 0.0, 1.0, n, resamples)
    observed = float(sb - sa)
    rng = np.random.Generator(np.random.PCG64(seed))
    diffs = []
    for row in rng.integers(0, n, size=(resamples, n)):
        a, b = stat([first[i] for i in row]), stat([second[i] for i in row])
        if a is not None and b is not None and not (math.isnan(a) or math.isnan(b)):
            diffs.append(b - a)
    if not diffs:
        return Bootstrap(observed, observed, observed, 1.0, n, resamples)
    d = np.asarray(diffs)
    extreme = int(np.sum(np.abs(d - observed) >= abs(observed) - 1e-12))
    lo, hi = np.percentile(d, [2.5, 97.5])
    return Bootstrap(
        observed, float(lo), float(hi), min(1.0, (1 + extreme) / (len(d) + 1)), n, resamples
    )


SMALL_N = 20
"""Below this many shared items a bootstrap p-value is optimistic (with 6 items that all
move the same way it reports p < 0.001); non-binary metrics then get the exact paired
permutation test instead."""


def paired_permutation(
    first: Sequence[Any],
    second: Sequence[Any],
    stat: Callable[[Sequence[Any]], float | None] | None = None,
    resamples: int = 2000,
    seed: int = 0,
) -> float:
    """Two-sided p-value of the paired permutation test of ``stat(second) − stat(first)``.

    Under "no difference" the two runs' values of each item are exchangeable, so every
    item's pair is swapped or not. All 2^n swap patterns are enumerated when that is at
    most ``resamples`` (exact), otherwise ``resamples`` seeded random patterns are drawn.
    ``stat`` defaults to the mean.
    """
    import itertools

    import numpy as np

    n = len(first)
    if n != len(second):
        raise ValueError("paired samples must have the same length")
    if n == 0:
        return 1.0
    mean_stat = stat is None

    def f(values: Sequence[Any]) -> float | None:
        return float(np.mean(values)) if mean_stat else stat(values)  # type: ignore[misc]

    sa, sb = f(list(first)), f(list(second))
    if sa is None or sb is None:
        return 1.0
    observed = abs(sb - sa)
    exact = 2**n <= resamples
    if exact:
        masks = np.array(list(itertools.product((False, True), repeat=n)), dtype=bool)
    else:
        rng = np.random.Generator(np.random.PCG64(seed))
        masks = rng.integers(0, 2, size=(resamples, n)).astype(bool)
    if mean_stat:
        d = np.asarray(second, dtype=np.float64) - np.asarray(first, dtype=np.float64)
        diffs = np.abs((np.where(masks, -d, d)).mean(axis=1))
        hits = int(np.sum(diffs >= observed - 1e-12))
        total = len(masks)
    else:
        hits = total = 0
        for m in masks:
            a = [second[i] if m[i] else first[i] for i in range(n)]
            b = [first[i] if m[i] else second[i] for i in range(n)]
            x, y = f(a), f(b)
            if x is None or y is None:
                continue
            total += 1
            hits += abs(y - x) >= observed - 1e-12
    if total == 0:
        return 1.0
    return hits / total if exact else (1 + hits) / (total + 1)
