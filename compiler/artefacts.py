"""The typed records of a PromptSet directory and of the job files bound into it.

``caic compile`` writes ``manifest.json`` (:class:`PromptSetManifest`, which carries the
directory's ``schema_version``) and one JSONL file per pass: ``principles.jsonl``
(:class:`PrincipleRecord`), ``critique.jsonl`` (:class:`CritiqueRecord`),
``revision.jsonl`` (:class:`RevisionRecord`), ``judge.jsonl`` (:class:`JudgeRecord`), and,
with ``--prompts``/``--pairs``, ``sl_cai_jobs.jsonl`` (:class:`SLCAIJob`) and
``judge_jobs.jsonl`` (:class:`JudgeJob`). Every record is checked against its model as it
is written (:func:`caic.compiler.promptset.write_promptset`); ``caic schema NAME`` prints
the JSON Schema of each.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from caic.constitution_lang.model import Settings

SCHEMA_VERSION = 1
"""Version of the PromptSet directory format (in ``manifest.json``)."""


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class Slot(_Record):
    """A place in a prompt that is filled at run time."""

    slot: str
    """``conversation``, ``response``, ``option_a``, ``option_b`` ..."""


class PromptMessage(_Record):
    """One chat message of a prompt, as literal text parts and slots."""

    role: Literal["system", "user", "assistant"]
    parts: list[str | Slot]


class ChatMessage(_Record):
    """One finished chat message (few-shot turns)."""

    role: Literal["system", "user", "assistant"]
    content: str


class Probability(_Record):
    critique: float
    """Chance of being drawn for a critique round."""
    judge: float
    """Chance of being drawn to judge a pair."""


class SourceSpan(_Record):
    path: str
    """The `.cai` file's name."""
    line: int
    column: int


class PrincipleRecord(_Record):
    """A row of ``principles.jsonl``: one principle with its category and draw odds."""

    id: str
    category: str
    kind: str
    weight: float
    category_weight: float
    probability: Probability
    priority_rank: int
    """0 for the categories that win every conflict, 1 for those below them, ..."""
    judge: str | None
    critique: str | None
    revision: str | None
    tags: list[str]
    source: str | None
    span: SourceSpan


class CritiqueRecord(_Record):
    """A row of ``critique.jsonl``: the critique request of one principle."""

    id: str
    principle: str
    few_shot: list[ChatMessage]
    messages: list[PromptMessage]


class RevisionRecord(_Record):
    """A row of ``revision.jsonl``: the revision request of one principle."""

    id: str
    principle: str
    messages: list[PromptMessage]


class JudgeRecord(_Record):
    """A row of ``judge.jsonl``: one principle's judge prompt in one mode and order."""

    id: str
    principle: str
    mode: Literal["direct", "cot", "pointwise"]
    order: Literal["forward", "swapped", "none"]
    options: list[str]
    mapping: dict[str, str]
    """Option letter → ``response_a`` / ``response_b``."""
    assistant_prefix: str
    messages: list[PromptMessage]


class SLCAIJob(_Record):
    """A row of ``sl_cai_jobs.jsonl``: a prompt with its K seeded principle draws."""

    job_id: str
    prompt_id: str
    prompt: str
    category: str | None
    principles: list[str]
    seed: int
    constitution_sha256: str


class JudgeJob(_Record):
    """A row of ``judge_jobs.jsonl``: one pair × drawn principle × order."""

    job_id: str
    pair_id: str
    principle: str
    order: Literal["forward", "swapped"]
    conversation: Any
    """The conversation before the two responses (text or chat messages)."""
    response_a: str
    response_b: str
    gold: str | None
    seed: int
    constitution_sha256: str


class ConstitutionRef(_Record):
    name: str
    version: str | None
    sha256: str


class FileEntry(_Record):
    sha256: str
    records: int


class PromptSetManifest(_Record):
    """``manifest.json`` of a PromptSet directory."""

    schema_version: int = SCHEMA_VERSION
    kind: Literal["promptset"] = "promptset"
    constitution: ConstitutionRef
    language_version: int
    caic_version: str
    seed: int
    settings: Settings
    files: dict[str, FileEntry]
    """File name → its sha256 and row count."""
    counts: dict[str, int]


RECORDS: dict[str, type[_Record]] = {
    "principles.jsonl": PrincipleRecord,
    "critique.jsonl": CritiqueRecord,
    "revision.jsonl": RevisionRecord,
    "judge.jsonl": JudgeRecord,
    "sl_cai_jobs.jsonl": SLCAIJob,
    "judge_jobs.jsonl": JudgeJob,
}
"""The model of each file of a PromptSet directory."""


def check_records(name: str, records: list[dict[str, Any]]) -> None:
    """Validate the records of one file against its model (a bug, not a user error, when
    one fails: the compiler built it)."""
    model = RECORDS.get(name)
    if model is not None:
        for r in records:
            model.model_validate(r)
