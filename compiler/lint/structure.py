"""Structure rules: categories, weights and priority chains."""

from __future__ import annotations

import re
from collections.abc import Iterator

from caic.compiler.lint.context import LintContext
from caic.compiler.lint.lexicon import valence
from caic.compiler.lint.registry import rule
from caic.compiler.sampling import probabilities
from caic.errors import Diagnostic

_STYLE = re.compile(
    r"\b(tone|tones|formatting|formatted|format|bullet(?:-point)?s?|markdown|headings?|"
    r"fonts?|emojis?|emoticons?|grammar|grammatical|spelling|punctuation|layout|stylistic|"
    r"paragraphs?|word count|verbosity|wordy|prose style|writing style|capitali[sz]ation|"
    r"typography|phrasing)\b",
    re.IGNORECASE,
)


@rule("CAI401")
def style_in_harm_category(ctx: LintContext) -> Iterator[Diagnostic]:
    """A style principle (tone, formatting, length) sits in a harm or ethics category.

    Style and safety are weighted separately: a category's weight is its share of the
    draws, so a formatting principle inside ``kind harm`` takes safety's share, dilutes
    the harm signal, and teaches the reward model that neat bullets are a safety property.
    Flagged when a principle of a ``harm`` or ``ethics`` category talks about tone,
    formatting, layout or spelling and names no harm.

    Anti-pattern:
        category safety {
          kind harm
          principle friendly-bullets {
            judge "Choose the response with a friendlier tone and neater bullet points."
          }
        }

    Best practice:
        Move it to its own ``kind style`` category with its own, usually low, weight.
    """
    for cat in ctx.constitution.categories:
        if cat.kind not in ("harm", "ethics"):
            continue
        for p in cat.principles:
            text = " ".join(t for t in (p.judge, p.critique, p.revision) if t)
            m = _STYLE.search(text)
            if not m:
                continue
            if any(valence(w) < 0 for w in re.findall(r"[A-Za-z][a-z'-]+", text)):
                continue  # about harm done through style, e.g. a demeaning tone
            yield ctx.diag(
                "CAI401",
                "warning",
                f"`{p.name}` is about style (`{m.group(0)}`) but sits in {cat.kind} "
                f"category `{cat.name}`",
                ctx.header_span(p),
                principles=(p.name,),
                hint="move it to a `kind style` category with its own weight",
            )


SKEW_FACTOR = 10.0
"""A principle drawn less than 1/(SKEW_FACTOR × N) of the time is flagged (N: usable
principles in that stage; 1/N is the uniform share)."""


@rule("CAI402")
def skewed_weight(ctx: LintContext) -> Iterator[Diagnostic]:
    """Sampling weights leave a principle almost never drawn.

    With ``sampling weighted``, P(p) = (w_cat / Σ w_cat) × (w_p / Σ w_p in its category).
    A tiny weight, or a large category around a small one, can push a principle's share
    so low that it appears in a handful of the training examples, if any: it is in the
    constitution but not in the model. Flagged when P(p) < 1/(10 N) in the critique or
    judge stage, N being the number of principles that stage can draw.

    Anti-pattern:
        principle rare-check { judge "..." weight 0.001 }   # about 1 draw in 20,000

    Best practice:
        Keep weights within an order of magnitude of each other; drop a principle rather
        than weighting it to nothing.
    """
    c = ctx.constitution
    flagged: set[str] = set()
    for stage in ("judge", "critique"):
        probs = probabilities(c, stage)
        n = len(probs)
        if n < 2:
            continue
        floor = 1.0 / (SKEW_FACTOR * n)
        for p in c.principles:
            pr = probs.get(p.name)
            if pr is None or pr >= floor or p.name in flagged:
                continue
            flagged.add(p.name)
            yield ctx.diag(
                "CAI402",
                "warning",
                f"`{p.name}` is drawn with probability {pr:.2g} in the {stage} stage, under "
                f"a tenth of the uniform 1/{n} (about 1 draw in {round(1 / pr):,})",
                ctx.field_span(p, "weight"),
                principles=(p.name,),
                hint="raise its weight (or its category's), or drop it",
            )


@rule("CAI403")
def unordered_priority(ctx: LintContext) -> Iterator[Diagnostic]:
    """Priority chains leave categories that can conflict unordered against each other.

    ``priority`` settles conflicts between principles of different categories. Two
    categories need an order when both hold principles, no chain orders them (directly or
    through others), and they can pull apart: their kinds differ (harm against
    helpfulness, honesty against style, ...), either is of kind ``other`` (its intent is
    unknown), or a contradiction was found between their principles. Two categories of
    the same kind (two harm categories) point the same way and need no order. Reported
    once per category, listing the categories it is unordered against.

    Anti-pattern:
        priority safety > accuracy
        priority brevity > rapport        # safety vs brevity? accuracy vs rapport?

    Best practice:
        One order over every category, e.g. ``priority safety > ethics > honesty >
        helpfulness > style``, or several chains that together order every pair.
    """
    c = ctx.constitution
    cats = [cat for cat in c.categories if cat.principles]
    if len(cats) < 2:
        return
    below = ctx.priority_below
    conflicting: set[frozenset[str]] = set()
    if ctx.judged and len(ctx.judged) > 1:
        hits = ctx.pair_scores.contradiction > 0
        ps = ctx.judged
        for i, j in zip(*hits.nonzero(), strict=True):
            if ps[i].category != ps[j].category:
                conflicting.add(frozenset((ps[i].category, ps[j].category)))
    reported: set[frozenset[str]] = set()
    for a in cats:
        others = []
        for b in cats:
            key = frozenset((a.name, b.name))
            if b is a or key in reported:
                continue
            if b.name in below.get(a.name, set()) or a.name in below.get(b.name, set()):
                continue
            if a.kind != b.kind or "other" in (a.kind, b.kind) or key in conflicting:
                others.append(b.name)
                reported.add(key)
        if others:
            yield ctx.diag(
                "CAI403",
                "warning",
                f"category `{a.name}` is not ordered against {', '.join(others)} by any "
                f"priority chain",
                ctx.header_span(a),
                hint=f"add a chain such as `priority {a.name} > {others[0]}` (or the reverse)",
            )
