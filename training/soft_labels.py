"""Soft-label maths of the AI judge: two-option probabilities, aggregation, CoT verdicts.

See :mod:`caic.training.labeller` for how they are used; every function here is pure.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from caic.backends.base import logsumexp
from caic.training.label_rows import Slot, Vote

ABSTAIN_MASS = 0.1
"""Below this total probability on the options, a judgement is an abstention."""


def two_way(logprobs: Sequence[float]) -> tuple[float, float]:
    """``(P(first) / (P(first) + P(second)), P(first) + P(second))`` from two log-probs.

    Computed as a sigmoid of the log-prob difference so that very negative log-probs
    neither underflow nor divide by zero; both options impossible gives ``(0.5, 0.0)``.
    """
    la, lb = float(logprobs[0]), float(logprobs[1])
    if la == lb == -math.inf or math.isnan(la) or math.isnan(lb):
        return 0.5, 0.0
    mass = math.exp(logsumexp([la, lb]))
    d = lb - la
    if d == math.inf:
        return 0.0, mass
    if d == -math.inf:
        return 1.0, mass
    p = math.exp(-d) / (1.0 + math.exp(-d)) if d > 0 else 1.0 / (1.0 + math.exp(d))
    return p, mass


def winner(p: float | None) -> Slot | None:
    """``a`` above 0.5, ``b`` below, ``None`` at exactly 0.5 or when unknown."""
    if p is None or p == 0.5:
        return None
    return "a" if p > 0.5 else "b"


def clamp(p: float, bounds: tuple[float, float]) -> float:
    return min(max(p, bounds[0]), bounds[1])


def aggregate(votes: Sequence[Vote], margin: float) -> tuple[float | None, str, int | None]:
    """``(p_a, aggregation, deciding tier)`` over the non-abstaining votes (module docstring)."""
    live = [v for v in votes if not v.abstained and v.p_a is not None]
    if not live:
        return None, "none", None
    if len(live) == 1:
        return live[0].p_a, "single", None
    tiers = sorted({v.tier for v in live})
    overall = mean([v.p_a for v in live])
    if len(tiers) == 1:
        return overall, "mean", None
    for t in tiers:
        p = mean([v.p_a for v in live if v.tier == t])
        if p is not None and abs(p - 0.5) >= margin:
            return p, "lexicographic", t
    return overall, "lexicographic", None


def mean(values: Sequence[float | None]) -> float | None:
    xs = [x for x in values if x is not None]
    return sum(xs) / len(xs) if xs else None


_VERDICT = re.compile(r"(?i:(?:the\s+)?better\s+response\s+is)\s*:?\s*\(?\s*([AB])\b")
_BARE = re.compile(r"\(([AB])\)")


def parse_verdict(text: str) -> tuple[Slot | None, str]:
    """``(letter named, reasoning before the verdict)`` of a CoT answer.

    The last "better response is (X)" decides and the text before it is the
    reasoning; without that phrase, a text naming only one of "(A)"/"(B)" names it.
    A text naming no option (or both, with no verdict phrase) gives ``None``.
    """
    found = list(_VERDICT.finditer(text))
    if found:
        m = found[-1]
        return ("a" if m.group(1) == "A" else "b"), text[: m.start()].rstrip()
    bare = {m.group(1) for m in _BARE.finditer(text)}
    if len(bare) == 1:
        return ("a" if bare.pop() == "A" else "b"), text.rstrip()
    return None, text.rstrip()
