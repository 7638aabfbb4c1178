"""RLAIF preference labels: an AI judge labels response pairs against constitution principles.

For each pair, principles are drawn from the constitution (``sample``: one seeded draw;
``N``: N draws, repeats judged once; ``all``: every principle with a judge text), and
each drawn principle's compiled judge prompt (``judge_records``) is scored:

- **pairwise** (default): the judge sees both responses as options (A) and (B); the
  soft label is P(A) / (P(A) + P(B)) from the log-probs of the option letters after
  ``"The better response is ("``, all prompts of a batch in one ``score_options`` call.
  With ``swap_positions`` the swapped order is scored in the same call and the two
  estimates of P(response_a better) are averaged.
- **pointwise**: each response is scored alone, s = P(Yes) / (P(Yes) + P(No)) for "does
  this response follow the principle?", and P(response_a better) = s_a / (s_a + s_b)
  (0.5 when both are 0). No position bias by construction; better on small judges.
- **CoT** (pairwise only): the judge writes its reasoning (``judge_cot`` record, greedy);
  the reasoning up to its final "The better response is" is kept as the assistant's
  text and the option letter is scored after it; each order's probability is clamped to
  the constitution's ``judge.clamp`` (CoT labels are over-confident).

**Abstention.** A judgement abstains when the judge puts less than
:data:`ABSTAIN_MASS` (10%) of its probability on the options (their log-probs combined
with logsumexp), in any order or either response: a judge that answers something else
("I cannot ...") has not chosen. In CoT mode a reasoning that names no option ("better
response is (X)", or only one of "(A)"/"(B)") abstains too. A pair abstains when every
drawn principle abstained; it is written with ``abstained: true`` and no label.

**Several principles.** Non-abstaining verdicts are averaged, unless the constitution's
priority puts the principles' categories in different tiers: then the highest tier's
mean decides unless it is within ``judge.margin`` of 0.5, in which case the next tier
decides, and so on (all tiers indifferent: the mean of all).

**Output.** One :class:`LabelRow` per pair: a TRL conversational preference row
(``prompt``, ``chosen``, ``rejected``) plus the soft label and its audit trail. ``gold``
is the raw human-preferred slot (``"a"``/``"b"``, as ``load_pairs`` gives it, or null)
and ``agrees_with_gold`` whether the labelled ``chosen`` is the human-preferred response.
"""

from __future__ import annotations

import math
import re
from collections.abc import Container, Iterator, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

import caic
from caic.compiler.prompts import fill, transcript
from caic.compiler.promptset import judge_records
from caic.compiler.sampling import draw, priority_ranks
from caic.constitution_lang import sha256
from caic.constitution_lang.model import Constitution
from caic.errors import usage_error
from caic.training.backends.base import Backend, SamplingParams, logsumexp

LABELS_SCHEMA_VERSION = 1
ABSTAIN_MASS = 0.1
"""Below this total probability on the options, a judgement is an abstention."""
COT_MAX_NEW_TOKENS = 256
Mode = Literal["pairwise", "pointwise"]
Slot = Literal["a", "b"]


class Vote(BaseModel):
    """One principle's verdict on one pair."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    principle: str
    """The principle judged against."""
    tier: int
    """Its category's priority tier (0 = highest)."""
    p_a: float | None
    """P(response_a better): both orders averaged (pairwise) or s_a/(s_a+s_b) (pointwise)."""
    p_forward: float | None
    """P(response_a better) from the forward order (A = response_a); pointwise: p_a."""
    p_swapped: float | None
    """P(response_a better) from the swapped order (A = response_b); null if not judged."""
    mass: list[float]
    """Probability mass on the options, per scored prompt (orders, or responses a and b)."""
    consistent: bool | None
    """Both orders pick the same response; null when only one order (or pointwise)."""
    abstained: bool
    """The judge answered neither option (mass below threshold, or CoT named none)."""
    reasoning: list[str] | None = None
    """CoT mode: the judge's generated reasoning, per order."""


class LabelRow(BaseModel):
    """One labelled pair: a TRL conversational preference row plus the label's provenance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    """The pair's id."""
    prompt: list[dict[str, str]]
    """The conversation before the responses, as chat messages."""
    chosen: list[dict[str, str]] | None
    """``[{"role": "assistant", "content": ...}]``: the response labelled better, or null."""
    rejected: list[dict[str, str]] | None
    """The other response; null if abstained."""
    response_a: str | None = None
    """Abstentions only: the first response (labelled rows keep it in chosen/rejected)."""
    response_b: str | None = None
    """Abstentions only: the second response."""
    chosen_slot: Slot | None
    """Which input slot was labelled chosen (``a`` on an exact tie); null if abstained."""
    p_a: float | None
    """Aggregated P(response_a better)."""
    p_chosen: float | None
    """The soft label: P(chosen better) >= 0.5."""
    p_forward: float | None
    """Mean over verdicts of P(response_a better) in the forward order."""
    p_swapped: float | None
    """Mean over verdicts of P(response_a better) from the swapped order."""
    consistent: bool | None
    """The forward and swapped means pick the same response; null if not both judged."""
    principles: list[str]
    """The principles drawn for this pair."""
    votes: list[Vote]
    """Each principle's verdict."""
    aggregation: Literal["single", "mean", "lexicographic", "none"]
    """How verdicts were combined (``none``: all abstained)."""
    deciding_tier: int | None
    """Lexicographic aggregation: the priority tier that decided."""
    mode: Mode
    """``pairwise`` or ``pointwise``."""
    cot: bool
    """Whether the judge reasoned before answering."""
    judge: str
    """The judge model's id."""
    constitution: str
    """The constitution's name."""
    constitution_sha256: str
    """Hash of the constitution's canonical text."""
    gold: Slot | None
    """The human-preferred slot when the input has one, else null."""
    agrees_with_gold: bool | None
    """Whether ``chosen`` is the human-preferred response; null without gold or label."""
    abstained: bool
    """True when no verdict chose an option: the row carries no label."""
    seed: int
    """Seed of the principle draws."""
    schema_version: int = LABELS_SCHEMA_VERSION
    """Version of this row layout."""
    caic_version: str = caic.__version__
    """The caic that wrote the row."""


# -- soft-label maths -----------------------------------------------------------------------


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
    overall = _mean([v.p_a for v in live])
    if len(tiers) == 1:
        return overall, "mean", None
    for t in tiers:
        p = _mean([v.p_a for v in live if v.tier == t])
        if p is not None and abs(p - 0.5) >= margin:
            return p, "lexicographic", t
    return overall, "lexicographic", None


def _mean(values: Sequence[float | None]) -> float | None:
    xs = [x for x in values if x is not None]
    return sum(xs) / len(xs) if xs else None


# -- verdict parsing (CoT) ------------------------------------------------------------------

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


# -- the labeller ---------------------------------------------------------------------------


def principle_draws(
    c: Constitution, n_pairs: int, principles: str | int, seed: int
) -> list[list[str]]:
    """The principles judged for each pair; draws are prefix-stable in ``n_pairs``."""
    if principles == "all":
        names = [p.name for p in c.principles if p.judge]
        return [list(names) for _ in range(n_pairs)]
    k = 1 if principles == "sample" else int(principles)
    if k < 1:
        raise usage_error(f"--principles must be sample, all or a positive number, got {k}")
    rows = draw(c, "judge", n_pairs, k, seed)
    return [list(dict.fromkeys(r)) for r in rows]


def label_pairs(
    constitution: Constitution,
    pairs: list[dict[str, Any]],
    judge: Backend,
    *,
    mode: Mode = "pairwise",
    principles: str | int = "sample",
    cot: bool = False,
    seed: int = 0,
    batch_size: int = 16,
    skip: Container[str] = (),
    cot_max_new_tokens: int = COT_MAX_NEW_TOKENS,
) -> Iterator[dict[str, Any]]:
    """Label ``pairs`` (as returned by ``load_pairs``); yield one row per pair, in order.

    Principle draws are made over the whole ``pairs`` list with ``seed`` (and are
    prefix-stable, so ``pairs[:n]`` gets the same draws as the first ``n`` of a longer
    list); ids in ``skip`` (rows already written by a resumed run) are not judged and
    not yielded. Each batch of ``batch_size`` pairs is scored in one ``score_options``
    call (pairwise or pointwise) or one ``generate`` call plus per-item scoring (CoT).
    """
    if mode not in ("pairwise", "pointwise"):
        raise usage_error(f"unknown judge mode {mode!r}", hint="pairwise or pointwise")
    if cot and mode == "pointwise":
        raise usage_error("--cot applies to pairwise judging only", hint="drop --cot or --mode")
    if not any(p.judge for p in constitution.principles):
        raise usage_error(f"constitution {constitution.name!r} has no principle with a judge text")
    drawn = principle_draws(constitution, len(pairs), principles, seed)
    settings = constitution.settings.judge
    records = {(r["principle"], r["mode"], r["order"]): r for r in judge_records(constitution)}
    ranks = priority_ranks(constitution)
    tiers = {p.name: ranks.get(p.category, 0) for p in constitution.principles}
    ctx = _Context(
        constitution, judge, records, tiers, settings.swap_positions, settings.clamp,
        settings.margin, sha256(constitution), seed, cot_max_new_tokens,
    )  # fmt: skip
    todo = [
        (pair, names) for pair, names in zip(pairs, drawn, strict=True) if pair["id"] not in skip
    ]
    for k in range(0, len(todo), max(1, batch_size)):
        batch = todo[k : k + max(1, batch_size)]
        if mode == "pointwise":
            votes = _pointwise(ctx, batch)
        elif cot:
            votes = _cot(ctx, batch)
        else:
            votes = _pairwise(ctx, batch)
        for (pair, _names), pair_votes in zip(batch, votes, strict=True):
            yield _row(ctx, pair, pair_votes, mode, cot)


class _Context:
    def __init__(
        self, c: Constitution, judge: Backend, records: dict[tuple[str, str, str], dict[str, Any]],
        tiers: dict[str, int], swap: bool, bounds: tuple[float, float], margin: float,
        sha: str, seed: int, cot_tokens: int,
    ) -> None:  # fmt: skip
        self.c, self.judge, self.records, self.tiers = c, judge, records, tiers
        self.orders = ("forward", "swapped") if swap else ("forward",)
        self.bounds, self.margin, self.sha, self.seed = bounds, margin, sha, seed
        self.cot_tokens = cot_tokens


Batch = list[tuple[dict[str, Any], list[str]]]


def _judge_prompt(rec: dict[str, Any], pair: dict[str, Any], **values: str) -> list[dict[str, str]]:
    conv = transcript(pair["conversation"])
    return [
        {"role": m["role"], "content": fill(m["parts"], conversation=conv, **values)}
        for m in rec["messages"]
    ]


def _order_prompt(rec: dict[str, Any], pair: dict[str, Any]) -> list[dict[str, str]]:
    m = rec["mapping"]
    return _judge_prompt(rec, pair, option_a=pair[m["A"]], option_b=pair[m["B"]])


def _p_response_a(rec: dict[str, Any], p_first: float) -> float:
    """P(response_a better) from P(first option) under the record's letter mapping."""
    return p_first if rec["mapping"][rec["options"][0]] == "response_a" else 1.0 - p_first


def _pairwise_vote(
    ctx: _Context, name: str, per_order: list[tuple[float, float]], reasoning: list[str] | None
) -> Vote:
    """A vote from each order's (P(response_a better), mass)."""
    ps = [p for p, _ in per_order]
    masses = [m for _, m in per_order]
    abstained = any(m < ABSTAIN_MASS for m in masses)
    p_fwd = ps[0]
    p_swp = ps[1] if len(ps) > 1 else None
    return Vote(
        principle=name,
        tier=ctx.tiers.get(name, 0),
        p_a=None if abstained else sum(ps) / len(ps),
        p_forward=p_fwd,
        p_swapped=p_swp,
        mass=masses,
        consistent=None if p_swp is None else _agree(p_fwd, p_swp),
        abstained=abstained,
        reasoning=reasoning,
    )


def _pairwise(ctx: _Context, batch: Batch) -> list[list[Vote]]:
    prompts: list[list[dict[str, str]]] = []
    recs: list[dict[str, Any]] = []
    for pair, names in batch:
        for name in names:
            for order in ctx.orders:
                rec = ctx.records[(name, "direct", order)]
                prompts.append(_order_prompt(rec, pair))
                recs.append(rec)
    prefix = recs[0]["assistant_prefix"] if recs else ""
    scores = ctx.judge.score_options(prompts, list(recs[0]["options"]), prefix) if prompts else []
    out: list[list[Vote]] = []
    i = 0
    for _pair, names in batch:
        votes = []
        for name in names:
            per_order = []
            for _ in ctx.orders:
                p_first, mass = two_way(scores[i])
                per_order.append((_p_response_a(recs[i], p_first), mass))
                i += 1
            votes.append(_pairwise_vote(ctx, name, per_order, None))
        out.append(votes)
    return out


def _cot(ctx: _Context, batch: Batch) -> list[list[Vote]]:
    items: list[tuple[dict[str, Any], list[dict[str, str]]]] = []
    for pair, names in batch:
        for name in names:
            for order in ctx.orders:
                rec = ctx.records[(name, "cot", order)]
                items.append((rec, _order_prompt(rec, pair)))
    params = SamplingParams(temperature=0.0, max_new_tokens=ctx.cot_tokens)
    texts = ctx.judge.generate([conv for _, conv in items], params) if items else []
    results: list[tuple[float, float]] = []
    for (rec, conv), text in zip(items, texts, strict=True):
        named, reasoning = parse_verdict(text)
        if named is None:
            results.append((0.5, 0.0))  # names no option: abstains
            continue
        prefix = (reasoning + "\n" if reasoning else "") + rec["assistant_prefix"]
        [scores] = ctx.judge.score_options([conv], list(rec["options"]), prefix)
        p_first, mass = two_way(scores)
        results.append((clamp(_p_response_a(rec, p_first), ctx.bounds), mass))
    out: list[list[Vote]] = []
    i = 0
    for _pair, names in batch:
        votes = []
        for name in names:
            n = len(ctx.orders)
            votes.append(_pairwise_vote(ctx, name, results[i : i + n], list(texts[i : i + n])))
            i += n
        out.append(votes)
    return out


def _pointwise(ctx: _Context, batch: Batch) -> list[list[Vote]]:
    prompts: list[list[dict[str, str]]] = []
    for pair, names in batch:
        for name in names:
            rec = ctx.records[(name, "pointwise", "none")]
            for slot in ("response_a", "response_b"):
                prompts.append(_judge_prompt(rec, pair, response=pair[slot]))
    any_rec = next(r for (_, m, _), r in ctx.records.items() if m == "pointwise")
    opts, prefix = list(any_rec["options"]), any_rec["assistant_prefix"]
    scores = ctx.judge.score_options(prompts, opts, prefix) if prompts else []
    out: list[list[Vote]] = []
    i = 0
    for _pair, names in batch:
        votes = []
        for name in names:
            (s_a, m_a), (s_b, m_b) = two_way(scores[i]), two_way(scores[i + 1])
            i += 2
            abstained = min(m_a, m_b) < ABSTAIN_MASS
            p = s_a / (s_a + s_b) if s_a + s_b > 0 else 0.5
            votes.append(
                Vote(
                    principle=name,
                    tier=ctx.tiers.get(name, 0),
                    p_a=None if abstained else p,
                    p_forward=p,
                    p_swapped=None,
                    mass=[m_a, m_b],
                    consistent=None,
                    abstained=abstained,
                )
            )
        out.append(votes)
    return out


def _row(
    ctx: _Context, pair: dict[str, Any], votes: list[Vote], mode: Mode, cot: bool
) -> dict[str, Any]:
    p_a, how, tier = aggregate(votes, ctx.margin)
    live = [v for v in votes if not v.abstained]
    p_fwd = _mean([v.p_forward for v in live])
    p_swp = _mean([v.p_swapped for v in live])
    gold = pair.get("gold") if pair.get("gold") in ("a", "b") else None
    abstained = p_a is None
    chosen_slot: Slot | None = None if p_a is None else ("a" if p_a >= 0.5 else "b")
    a, b = pair["response_a"], pair["response_b"]
    row = LabelRow(
        id=str(pair["id"]),
        prompt=list(pair["conversation"]),
        chosen=None if abstained else [_assistant(a if chosen_slot == "a" else b)],
        rejected=None if abstained else [_assistant(b if chosen_slot == "a" else a)],
        response_a=a if abstained else None,
        response_b=b if abstained else None,
        chosen_slot=chosen_slot,
        p_a=p_a,
        p_chosen=None if p_a is None else max(p_a, 1.0 - p_a),
        p_forward=p_fwd,
        p_swapped=p_swp,
        consistent=None if p_swp is None or p_fwd is None else _agree(p_fwd, p_swp),
        principles=[v.principle for v in votes],
        votes=votes,
        aggregation=how,  # type: ignore[arg-type]
        deciding_tier=tier,
        mode=mode,
        cot=cot,
        judge=ctx.judge.model_id,
        constitution=ctx.c.name,
        constitution_sha256=ctx.sha,
        gold=gold,
        agrees_with_gold=None if gold is None or abstained else chosen_slot == gold,
        abstained=abstained,
        seed=ctx.seed,
    )
    return row.model_dump(mode="json", exclude_none=False)


def _agree(p1: float, p2: float) -> bool:
    w = winner(p1)
    return w is not None and w == winner(p2)


def _assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def read_labels(path: str, include_abstained: bool = False) -> list[dict[str, Any]]:
    """Label rows from a file; abstentions (rows with no label) left out unless asked."""
    from caic.io import read_jsonl

    rows = [row for _, row in read_jsonl(path)]
    return rows if include_abstained else [r for r in rows if not r.get("abstained")]
