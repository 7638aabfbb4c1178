"""The backend protocol every model runner implements, and helpers they share.

A backend turns chat conversations into assistant replies (:meth:`Backend.generate`)
and scores fixed answer options by their log-probability as the continuation of a
chat prompt (:meth:`Backend.score_options`). Judges use the second: one forward
pass scores the letters ``A`` and ``B`` after "...The better response is (",
instead of parsing generated text.

This module imports nothing heavy; implementations import torch, httpx or vllm
inside their own modules, which the registry loads only on demand.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from caic.errors import usage_error

Message = dict[str, str]
"""One chat message: ``{"role": "system" | "user" | "assistant", "content": "..."}``."""


class SamplingParams(BaseModel):
    """How to sample a reply. ``temperature == 0`` means greedy decoding."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float = Field(0.0, ge=0.0)
    """Softmax temperature; 0.0 picks the most likely token at every step."""
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    """Nucleus sampling mass; 1.0 disables it."""
    max_new_tokens: int = Field(256, ge=1)
    """Upper bound on the tokens generated per reply."""
    seed: int | None = None
    """Seed for sampling, so a sampled batch can be reproduced; ``None`` = unseeded."""
    stop: list[str] = Field(default_factory=list)
    """Strings that end a reply; the reply is cut before the first one found."""

    @property
    def greedy(self) -> bool:
        """True when decoding is deterministic (temperature 0)."""
        return self.temperature == 0.0


class Backend(ABC):
    """A model behind one of the registered backend kinds.

    Implementations set :attr:`name` (the spec they were built from),
    :attr:`model_id` and :attr:`max_context`, and may be used as context managers.
    """

    name: str
    """The spec this backend was made from, e.g. ``transformers`` or ``openai:URL#MODEL``."""
    model_id: str
    """The model it runs, as reported in logs and artefacts."""

    @property
    @abstractmethod
    def max_context(self) -> int:
        """The context window in tokens (prompt plus reply)."""

    @abstractmethod
    def generate(self, conversations: list[list[Message]], params: SamplingParams) -> list[str]:
        """Reply to each conversation (chat template plus generation prompt), in order."""

    @abstractmethod
    def score_options(
        self, prompts: list[list[Message]], options: list[str], assistant_prefix: str = ""
    ) -> list[list[float]]:
        """Log-probability of each option as the continuation of each rendered prompt.

        Each prompt is rendered with the chat template and the generation prompt,
        then ``assistant_prefix`` is appended; the result holds one row per prompt
        and one natural-log probability per option, in the order given.
        """

    def generate_text(self, prompts: list[str], params: SamplingParams) -> list[str]:
        """Raw completion of plain-text prompts (no chat template); optional."""
        raise usage_error(f"backend {self.name!r} does not support raw text completion")

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release the model or connections; the backend is unusable afterwards."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} model={self.model_id!r}>"


def check_options(options: Sequence[str]) -> list[str]:
    """Options must be distinct non-empty strings; anything else is a usage error."""
    opts = list(options)
    if not opts:
        raise usage_error("score_options needs at least one option")
    if any(not isinstance(o, str) or o == "" for o in opts):
        raise usage_error("score_options options must be non-empty strings")
    if len(set(opts)) != len(opts):
        raise usage_error(f"score_options options must be distinct, got {opts!r}")
    return opts


def trim_at_stop(text: str, stop: Sequence[str]) -> str:
    """Cut ``text`` before the earliest occurrence of any stop string."""
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1:
                cut = min(cut, i)
    return text[:cut]


def split_continuation(prompt_ids: Sequence[int], joint_ids: Sequence[int]) -> int:
    """Length of the token prefix shared by a prompt and prompt+option.

    Tokenisers may merge the end of the prompt with the start of the option
    (``" ("`` + ``"A"`` → ``" (A"``), so the option's tokens are not simply the
    joint tokens after ``len(prompt_ids)``. Scoring the joint tokens after the
    longest common prefix gives the probability of the option's text (plus the
    merged tail of the prompt) from the last point both tokenisations agree.
    The prefix is shortened by one when needed so at least one token is scored.
    """
    n = 0
    for a, b in zip(prompt_ids, joint_ids, strict=False):
        if a != b:
            break
        n += 1
    return min(n, len(joint_ids) - 1)


def logsumexp(values: Sequence[float]) -> float:
    """log(sum(exp(v))) without overflow; ``-inf`` for an empty sequence."""
    if not values:
        return -math.inf
    m = max(values)
    if m == -math.inf:
        return m
    return m + math.log(sum(math.exp(v - m) for v in values))


def normalize_option(text: str) -> str:
    """Compare answer tokens loosely: ``" (A"``, ``"A)"`` and ``"A"`` are the same answer."""
    return text.strip().strip("()[]").strip()


def describe(obj: Any) -> str:
    """First line of an exception or object, for one-line error messages."""
    text = str(obj).strip().splitlines()
    return text[0] if text else type(obj).__name__
