"""The rows ``caic rlaif label`` writes: one :class:`LabelRow` per pair, one :class:`Vote` per
principle judged. A label row is a TRL conversational preference row (``prompt``,
``chosen``, ``rejected``) plus the soft label and everything needed to audit it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

import caic

LABELS_SCHEMA_VERSION = 1
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
