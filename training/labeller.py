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

from collections.abc import Container, Iterator
from dataclasses import dataclass
from typing import Any

from caic.backends.base import Backend, SamplingParams
from caic.compiler.prompts import fill, transcript
from caic.compiler.promptset import judge_records
from caic.compiler.sampling import draw, priority_ranks
from caic.constitution_lang import sha256
from caic.constitution_lang.model import Constitution
from caic.errors import usage_error
from caic.training.label_rows import LABELS_SCHEMA_VERSION, LabelRow, Mode, Slot, Vote
from caic.training.soft_labels import (
    ABSTAIN_MASS,
    aggregate,
    clamp,
    mean,
    parse_verdict,
    two_way,
    winner,
)

__all__ = [
    "ABSTAIN_MASS",
    "LABELS_SCHEMA_VERSION",
    "LabelRow",
    "Mode",
    "Vote",
    "aggregate",
    "clamp",
    "label_pairs",
    "order_prompt",
    "parse_verdict",
    "principle_draws",
    "read_labels",
    "two_way",
    "winner",
]
COT_MAX_NEW_TOKENS = 256


def principle_draws(
    c: Constitution, n_pairs: int, principles: str | int, seed: int
) -> list[list[str]]:
    """The principles judged for each pair; draws are prefix-stable in ``n_pairs``."""
    if principles == "all":
        names = [p.name for p in c.principles if p.judge]
        return [list(names) for _ in range(n_pairs)]
    try:
        k = 1 if principles == "sample" else int(principles)
    except ValueError:
        k = 0
    if k < 1:
        raise usage_error(
            f"--principles must be sample, all or a positive number, got {principles!r}"
        )
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
        c=constitution,
        judge=judge,
        records=records,
        tiers=tiers,
        orders=("forward", "swapped") if settings.swap_positions else ("forward",),
        bounds=settings.clamp,
        margin=settings.margin,
        sha=sha256(constitution),
        seed=seed,
        cot_tokens=cot_max_new_tokens,
    )
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


@dataclass(frozen=True)
class _Context:
    """What every batch of one labelling run shares."""

    c: Constitution
    judge: Backend
    records: dict[tuple[str, str, str], dict[str, Any]]
    tiers: dict[str, int]
    orders: tuple[str, ...]
    bounds: tuple[float, float]
    margin: float
    sha: str
    seed: int
    cot_tokens: int


Batch = list[tuple[dict[str, Any], list[str]]]


def _judge_prompt(rec: dict[str, Any], pair: dict[str, Any], **values: str) -> list[dict[str, str]]:
    conv = transcript(pair["conversation"])
    return [
        {"role": m["role"], "content": fill(m["parts"], conversation=conv, **values)}
        for m in rec["messages"]
    ]


def order_prompt(rec: dict[str, Any], pair: dict[str, Any]) -> list[dict[str, str]]:
    """A pairwise judge record's chat prompt for ``pair``, options placed by its mapping."""
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
                prompts.append(order_prompt(rec, pair))
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
                items.append((rec, order_prompt(rec, pair)))
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
    p_fwd = mean([v.p_forward for v in live])
    p_swp = mean([v.p_swapped for v in live])
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
    """Label rows from a file; abstentions (rows with no label) left out unless asked.
    Rows are not held to :class:`LabelRow`: ``caic rlaif audit`` also reads the labels of
    other tools, which carry only ``id``, ``p_chosen`` and ``gold``."""
    from caic.io import read_jsonl

    rows = [row for _, row in read_jsonl(path)]
    return rows if include_abstained else [r for r in rows if not r.get("abstained")]
