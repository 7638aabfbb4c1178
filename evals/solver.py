"""What every suite's solver shares: the run context and the sample record."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from caic.backends.base import Backend, Message, SamplingParams
from caic.constitution_lang.model import Constitution


@dataclass
class Context:
    """What a solver needs besides its items."""

    model: Backend
    judge: Backend | None = None
    constitution: Constitution | None = None
    system_prompt: str | None = None
    """Rendered constitution for the system message (``--system-prompt``), else None."""
    params: SamplingParams = field(default_factory=lambda: SamplingParams(max_new_tokens=256))
    seed: int = 0
    batch_size: int = 16

    def conversation(self, turns: list[Message]) -> list[Message]:
        """``turns`` with the constitution's system message first (``--system-prompt``)."""
        if self.system_prompt:
            return [{"role": "system", "content": self.system_prompt}, *turns]
        return turns


Item = dict[str, Any]
Record = dict[str, Any]
Solver = Callable[[Context, list[Item], Callable[[str], bool]], Iterator[list[Record]]]


def record(
    suite: str, item: Item, inp: dict[str, Any], output: Any, scores: dict[str, Any]
) -> Record:
    """A ``samples.jsonl`` record: ``uid`` is ``"{suite}:{id}"``."""
    return {
        "uid": f"{suite}:{item['id']}",
        "suite": suite,
        "id": item["id"],
        "category": item.get("category"),
        "input": inp,
        "output": output,
        "scores": scores,
    }


def chunks(items: list[Item], size: int) -> Iterator[list[Item]]:
    """Consecutive batches of at most ``size`` items."""
    for k in range(0, len(items), max(1, size)):
        yield items[k : k + max(1, size)]
