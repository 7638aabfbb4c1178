"""Frozen pydantic models of a constitution.

Two layers, as the data flow of DESIGN §2 asks:

* :class:`Document` is one file exactly as written (extends and drops kept,
  settings as raw entries). The formatter prints it.
* :class:`Constitution` is the resolved result: parents merged, settings typed and
  defaulted, every semantic check passed. Everything downstream consumes it.

Every node carries a :class:`Span` pointing back to the file it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

LANGUAGE_VERSION = 1
"""The newest `.cai` language version this caic understands."""

KINDS = ("harm", "ethics", "honesty", "helpfulness", "style", "other")
Kind = Literal["harm", "ethics", "honesty", "helpfulness", "style", "other"]


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node sits in its source file (1-based, end column exclusive).

    A frozen dataclass rather than a model: a large constitution has thousands of
    spans, and this keeps parsing 1,000 principles well under a second. Pydantic
    validates and serialises it like a model.
    """

    path: str = "<string>"
    """The source file."""
    line: int = 1
    """First line."""
    column: int = 1
    """First column."""
    end_line: int = 1
    """Last line."""
    end_column: int = 1
    """Column just past the end."""


class Node(BaseModel):
    """Base of every syntax node: frozen, no unknown fields, a source span."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    span: Span = Field(default_factory=Span)
    """Where the node was written."""
    field_spans: dict[str, Span] = Field(default_factory=dict)
    """Spans of the node's scalar fields (``"weight"`` → its line), for diagnostics."""


class Example(Node):
    """A few-shot example of critique and revision, rendered into the prompts."""

    prompt: str | None = None
    """The user's request."""
    response: str | None = None
    """The assistant's first answer."""
    critique: str | None = None
    """A model critique of that answer."""
    revision: str | None = None
    """The revised answer."""


class Principle(Node):
    """One principle: judge text for RLAIF, and/or a critique/revision pair for SL-CAI."""

    name: str
    """Unique name across the constitution."""
    category: str = ""
    """Name of the category it belongs to."""
    judge: str | None = None
    """Comparative question for the AI judge ("Choose the response that ...")."""
    critique: str | None = None
    """Critique request for SL-CAI."""
    revision: str | None = None
    """Revision request for SL-CAI; must come with ``critique``."""
    weight: float = 1.0
    """Share of draws within its category under ``sampling weighted``."""
    tags: tuple[str, ...] = ()
    """Free labels; hazard tags let the linter check coverage."""
    source: str | None = None
    """Where the principle was modelled from, if anywhere."""
    examples: tuple[Example, ...] = ()
    """Few-shot examples."""


class Drop(Node):
    """``drop NAME``: remove an inherited principle."""

    name: str


class Extends(Node):
    """``extends "path"``: merge a parent file into this one."""

    path: str


class PriorityChain(Node):
    """``priority a > b > c``: earlier categories win conflicts."""

    categories: tuple[str, ...]
    name_spans: tuple[Span, ...] = ()
    """Span of each category name, for pointing at an unknown one."""


class Tension(Node):
    """A declared, intended conflict between two principles and how it is settled."""

    a: str
    b: str
    prefer: str | None = None
    """Which of the two wins."""
    note: str | None = None


class Template(Node):
    """Override of a built-in prompt template."""

    name: str
    text: str


SettingKind = Literal["string", "number", "name", "bool", "list", "block"]


class SettingEntry(Node):
    """One raw ``key value`` line (or ``key { ... }`` block) of a settings block."""

    key: str
    kind: SettingKind
    value: Any = None
    """str, int, float, bool, or a tuple of SettingEntry-less values for lists."""
    items: tuple[SettingEntry, ...] = ()
    """Children of a block."""


class DocCategory(Node):
    """A category as written in one file (unset fields are ``None``)."""

    name: str
    kind: str | None = None
    weight: float | None = None
    description: str | None = None
    principles: tuple[Principle, ...] = ()
    drops: tuple[Drop, ...] = ()


class Document(Node):
    """One `.cai` file as written."""

    language_version: int | None = None
    """The ``cai N`` header, if present."""
    name: str
    version: str | None = None
    description: str | None = None
    extends: tuple[Extends, ...] = ()
    drops: tuple[Drop, ...] = ()
    priority: tuple[PriorityChain, ...] = ()
    settings: tuple[SettingEntry, ...] | None = None
    """Raw settings entries; ``None`` when there is no settings block."""
    settings_span: Span | None = None
    categories: tuple[DocCategory, ...] = ()
    tensions: tuple[Tension, ...] = ()
    templates: tuple[Template, ...] = ()


class JudgeSettings(BaseModel):
    """The ``judge { ... }`` settings block."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    swap_positions: bool = True
    """Judge each pair in both orders and average (removes position bias)."""
    chain_of_thought: bool = False
    """Let the judge reason before the option is scored."""
    clamp: tuple[float, float] = (0.4, 0.6)
    """Range CoT soft labels are clamped into (CAI 2022 used [0.4, 0.6])."""
    mode: Literal["pairwise", "pointwise"] = "pairwise"
    """Default judging mode."""
    margin: float = 0.05
    """Within this distance of 0.5 a priority tier counts as indifferent."""


class Settings(BaseModel):
    """The typed ``settings { ... }`` block, with defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    critique_rounds: int = Field(default=1, ge=1, le=8)
    """K, the critique–revision rounds in SL-CAI (the paper found 1–2 enough)."""
    sampling: Literal["uniform", "weighted"] = "uniform"
    """How principles are drawn: 1/N each, or by category and principle weights."""
    seed: int = 0
    """Seed for principle draws."""
    few_shot: bool = True
    """Render the constitution's examples into the critique prompts."""
    judge: JudgeSettings = Field(default_factory=JudgeSettings)


class Category(Node):
    """A resolved category."""

    name: str
    kind: Kind = "other"
    weight: float = 1.0
    description: str | None = None
    principles: tuple[Principle, ...] = ()


class Constitution(Node):
    """A resolved, checked constitution: the input of every later stage."""

    language_version: int = LANGUAGE_VERSION
    name: str
    version: str | None = None
    description: str | None = None
    priority: tuple[PriorityChain, ...] = ()
    settings: Settings = Field(default_factory=Settings)
    categories: tuple[Category, ...] = ()
    tensions: tuple[Tension, ...] = ()
    templates: tuple[Template, ...] = ()
    path: str | None = None
    """The file it was loaded from, if any."""
    sources: tuple[str, ...] = ()
    """Every file that contributed (the file and its ``extends`` parents)."""

    @property
    def principles(self) -> tuple[Principle, ...]:
        """All principles, category by category, in declaration order."""
        return tuple(p for c in self.categories for p in c.principles)

    def principle(self, name: str) -> Principle:
        for p in self.principles:
            if p.name == name:
                return p
        raise KeyError(name)

    def category(self, name: str) -> Category:
        for c in self.categories:
            if c.name == name:
                return c
        raise KeyError(name)

    def template(self, name: str) -> str | None:
        for t in self.templates:
            if t.name == name:
                return t.text
        return None


_SPAN_KEYS = {"span", "field_spans", "name_spans", "settings_span", "path", "sources"}


def semantic_dump(model: BaseModel) -> Any:
    """The model as plain data with spans and file paths removed, for comparisons."""

    def strip(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if k not in _SPAN_KEYS}
        if isinstance(obj, list | tuple):
            return [strip(v) for v in obj]
        return obj

    return strip(model.model_dump(mode="json"))
