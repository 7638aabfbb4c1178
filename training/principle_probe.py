"""Behavioural lint: how a constitution's principles vote in practice on a probe set of pairs.

Every principle with a judge text labels every probe pair (:func:`label_pairs` with
``principles="all"``). Each principle's votes form a vector of P(response_a better) - 0.5
over the pairs; two principles whose vectors anti-correlate (Pearson r <= -0.3 by
default) pull the labels in opposite directions on real responses (**conflict in
practice**), and two whose vectors are nearly identical (r >= 0.9) add nothing to each
other (**redundant in practice**). A conflict the constitution already declares with
``tension`` is intended and not reported. Pairs where either principle abstained are
left out of that correlation; fewer than :data:`MIN_PAIRS` shared pairs, or a principle
whose votes do not vary, gives no finding.

A weak judge (a 135M model) barely reads the principle, so its votes are nearly the
same for every principle and most pairs come out "redundant": that is a finding about
the judge, which the message's correlation makes plain.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

from caic.backends.base import Backend
from caic.constitution_lang.model import Constitution
from caic.errors import Diagnostic
from caic.training.labeller import Mode, label_pairs

CONFLICT_CODE = "CAI901"
REDUNDANT_CODE = "CAI902"
MIN_PAIRS = 5


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson correlation; ``None`` when either side has no variance or under 2 points."""
    n = len(x)
    if n < 2 or n != len(y):
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx <= 1e-18 or syy <= 1e-18:
        return None
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def vote_table(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """``{principle: {pair id: P(response_a better)}}`` from labelled rows' votes."""
    table: dict[str, dict[str, float]] = {}
    for r in rows:
        for v in r["votes"]:
            if not v["abstained"] and v["p_a"] is not None:
                table.setdefault(v["principle"], {})[str(r["id"])] = float(v["p_a"])
    return table


def findings(
    c: Constitution,
    table: dict[str, dict[str, float]],
    *,
    conflict_below: float = -0.3,
    redundant_above: float = 0.9,
    min_pairs: int = MIN_PAIRS,
) -> list[Diagnostic]:
    """Diagnostics for principle pairs whose votes anti-correlate or coincide."""
    declared = {frozenset((t.a, t.b)) for t in c.tensions}
    order = [p.name for p in c.principles if p.name in table]
    out: list[Diagnostic] = []
    for a, b in itertools.combinations(order, 2):
        shared = sorted(set(table[a]) & set(table[b]))
        if len(shared) < min_pairs:
            continue
        r = pearson([table[a][i] for i in shared], [table[b][i] for i in shared])
        if r is None:
            continue
        if r <= conflict_below and frozenset((a, b)) not in declared:
            out.append(_diag(c, a, b, r, len(shared), conflict=True))
        elif r >= redundant_above:
            out.append(_diag(c, a, b, r, len(shared), conflict=False))
    return out


def _diag(c: Constitution, a: str, b: str, r: float, n: int, *, conflict: bool) -> Diagnostic:
    span = c.principle(a).span
    if conflict:
        msg = (f"principles `{a}` and `{b}` vote against each other in practice "
               f"(r = {r:+.2f} over {n} probe pairs)")  # fmt: skip
        hint = "declare a `tension` with `prefer`, or order their categories with `priority`"
    else:
        msg = (f"principles `{a}` and `{b}` vote the same way in practice "
               f"(r = {r:+.2f} over {n} probe pairs)")  # fmt: skip
        hint = "merge them, or sharpen one so it judges something the other does not"
    return Diagnostic(
        code=CONFLICT_CODE if conflict else REDUNDANT_CODE,
        name="conflict-in-practice" if conflict else "redundant-in-practice",
        severity="warning",
        message=msg,
        path=span.path,
        line=span.line,
        column=span.column,
        hint=hint,
        principles=(a, b),
    )


def probe_principles(
    constitution: Constitution,
    pairs: list[dict[str, Any]],
    backend: Backend,
    *,
    mode: Mode | None = None,
    batch_size: int = 16,
    conflict_below: float = -0.3,
    redundant_above: float = 0.9,
    min_pairs: int = MIN_PAIRS,
) -> list[Diagnostic]:
    """Run every judge principle over ``pairs`` (``load_pairs`` rows); return the findings.

    ``mode`` defaults to the constitution's ``judge.mode``; judging is direct (no CoT).
    All principles of a batch of pairs go to the judge in one ``score_options`` call
    (the transformers backend runs each pair's shared conversation prefix once).
    """
    rows = list(
        label_pairs(
            constitution,
            pairs,
            backend,
            mode=mode or constitution.settings.judge.mode,
            principles="all",
            batch_size=batch_size,
        )
    )
    return findings(
        constitution,
        vote_table(rows),
        conflict_below=conflict_below,
        redundant_above=redundant_above,
        min_pairs=min_pairs,
    )
