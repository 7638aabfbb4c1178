"""Pair rules: principles that contradict each other, or say the same thing twice.

Both read the judge texts through :mod:`.semantics` in one vectorised pass over every
pair: by default the fine-tuned pair encoder (:mod:`.pair_encoder`) decides; the older
rule layer (stances, antonym scales, embeddings, TF-IDF) remains behind
``CAIC_LINT_RULES=1``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from caic.compiler.lint.context import LintContext
from caic.compiler.lint.registry import rule
from caic.constitution_lang.model import Principle
from caic.errors import Diagnostic, Severity

DEEP_CANDIDATES = 64
"""With ``--deep``, at most this many of the most similar undecided pairs go to the model."""
DEEP_MIN_SIMILARITY = 0.30
DEEP_PROMPT = (
    "Two principles guide an AI judge that picks the better of two assistant responses.\n"
    "Principle A: {a}\nPrinciple B: {b}\n"
    "In some realistic situation, would a judge following A prefer a different response "
    "than a judge following B, because the principles pull in opposite directions? "
    "Answer Yes or No."
)


def _resolution(ctx: LintContext, a: Principle, b: Principle) -> str | None:
    """How the conflict is settled, or ``None`` when nothing settles it."""
    for t in ctx.constitution.tensions:
        if {t.a, t.b} == {a.name, b.name}:
            if t.prefer:
                return f"`{t.prefer}` wins (declared tension)"
            return "declared as an intended tension"
    below = ctx.priority_below
    if b.category in below.get(a.category, set()):
        return f"`{a.name}` wins (priority {a.category} > {b.category})"
    if a.category in below.get(b.category, set()):
        return f"`{b.name}` wins (priority {b.category} > {a.category})"
    return None


def _pairs(mask: np.ndarray) -> Iterator[tuple[int, int]]:
    for i, j in np.argwhere(np.triu(mask, 1)):
        yield int(i), int(j)


@rule("CAI101")
def contradiction(ctx: LintContext) -> Iterator[Diagnostic]:
    """Two principles pull the judge in opposite directions on overlapping situations.

    A judge given one of them prefers the response the other one rejects, so the reward
    model learns noise wherever both apply. Detected from meaning, not a word list: a
    sentence encoder (the first blocks of all-MiniLM-L6-v2) fine-tuned on labelled
    principle pairs reads both judge texts and classifies the pair; the same request
    scoped to two different subjects (``... about elections`` / ``... about cooking``) is
    never a contradiction; ``--deep`` also asks a model. When a
    ``priority`` chain orders the two categories, or a ``tension`` block names the pair,
    the conflict is settled and reported as a note naming the winner.

    Anti-pattern:
        category style { principle briefest { judge "Choose the briefest response." } }
        category coverage { principle thorough { judge "Choose the most thorough response." } }

    Best practice:
        Order the categories (``priority coverage > style``), declare the trade-off
        (``tension briefest thorough { prefer thorough note "Cut padding, not
        substance." }``), or rewrite one principle so that the two no longer overlap.
    """
    ps = ctx.judged
    if len(ps) < 2:
        return
    from caic.compiler.lint.semantics import conflict_scale

    scores = ctx.pair_scores
    hits = scores.contradiction > 0
    found: dict[tuple[int, int], str] = {}
    for i, j in _pairs(hits):
        scale = conflict_scale(ps[i].judge or "", ps[j].judge or "")
        found[(i, j)] = f" on {scale.removeprefix('wn:')}" if scale else ""
    if ctx.deep_backend is not None:
        found.update(_deep(ctx, ps, scores, set(found)))
    for (i, j), detail in sorted(found.items()):
        a, b = ps[i], ps[j]
        settled = _resolution(ctx, a, b)
        msg = f"`{a.name}` and `{b.name}` pull the judge in opposite directions{detail}"
        severity: Severity = "note"
        hint: str | None = None
        if settled:
            msg += f"; resolved: {settled}"
        else:
            where = (
                "in the same category"
                if a.category == b.category
                else f"and no priority orders {a.category} against {b.category}"
            )
            severity, msg = "warning", f"{msg}, {where}"
            hint = (
                f"add `priority {a.category} > {b.category}` (or the reverse), a "
                f"`tension {a.name} {b.name} {{ prefer ... }}` block, or reword one"
            )
        yield ctx.diag(
            "CAI101",
            severity,
            msg,
            ctx.field_span(b, "judge"),
            principles=(a.name, b.name),
            hint=hint,
        )


def _deep(
    ctx: LintContext, ps: list[Principle], scores: object, done: set[tuple[int, int]]
) -> dict[tuple[int, int], str]:
    """Ask the model about the most similar pairs the shallow pass did not flag."""
    sim = np.triu(scores.similarity, 1)  # type: ignore[attr-defined]
    order = np.argsort(-sim, axis=None)
    cand: list[tuple[int, int]] = []
    for flat in order:
        i, j = divmod(int(flat), sim.shape[0])
        if sim[i, j] < DEEP_MIN_SIMILARITY or len(cand) >= DEEP_CANDIDATES:
            break
        if i < j and (i, j) not in done:
            cand.append((i, j))
    if not cand:
        return {}
    prompts = [
        [{"role": "user", "content": DEEP_PROMPT.format(a=ps[i].judge, b=ps[j].judge)}]
        for i, j in cand
    ]
    rows = ctx.deep_backend.score_options(prompts, ["Yes", "No"])
    out: dict[tuple[int, int], str] = {}
    for (i, j), (yes, no) in zip(cand, rows, strict=True):
        p_yes = 1.0 / (1.0 + math.exp(no - yes))
        if p_yes >= 0.5:
            out[(i, j)] = f" (deep: the model says they conflict, p={p_yes:.2f})"
    return out


@rule("CAI102")
def near_duplicate(ctx: LintContext) -> Iterator[Diagnostic]:
    """Two principles say the same thing in other words.

    Each principle is drawn as its own concern, so a restated one is sampled twice as
    often as intended and crowds out the rest; when they later drift apart in edits, the
    constitution contradicts itself. Detected from meaning by the same fine-tuned pair
    encoder as ``contradiction``: paraphrases in other words and with flipped polarity
    ("least harmful" / "avoids causing harm") count; two principles on one topic that
    ask for different things do not.

    Anti-pattern:
        principle weapons-one {
          judge "Choose the response less likely to help build a weapon capable of mass
                 casualties."
        }
        principle weapons-two {
          judge "Choose the response less likely to assist in building weapons that can
                 kill many people."
        }

    Best practice:
        Keep one of them, or give each a distinct scope (chemical and biological weapons
        in one, explosives in the other) and say so in the text.
    """
    ps = ctx.judged
    if len(ps) < 2:
        return
    scores = ctx.pair_scores
    for i, j in _pairs(scores.is_duplicate()):
        a, b = ps[i], ps[j]
        yield ctx.diag(
            "CAI102",
            "warning",
            f"`{b.name}` says the same as `{a.name}` (score {scores.duplicate[i, j]:.2f})",
            ctx.field_span(b, "judge"),
            principles=(a.name, b.name),
            hint="merge them, or narrow each to a distinct concern",
        )
