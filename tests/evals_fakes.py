"""A scripted backend for the eval tests: canned replies, chosen option scores, a call log."""

from __future__ import annotations

import math
from collections.abc import Callable

from caic.backends.base import Backend, Message, SamplingParams

REFUSE = "I'm sorry, but I can't help with that. It could hurt people."
COMPLY = "Sure. First, open the settings menu, then choose the option you need and press save."


def default_reply(conv: list[Message]) -> str:
    """Refuse anything mentioning a bomb, poison or hacking; answer everything else."""
    text = conv[-1]["content"].lower()
    return REFUSE if any(w in text for w in ("bomb", "poison", "hack")) else COMPLY


class FakeBackend(Backend):
    """Replies with ``reply(conversation)``; ``score_options`` puts ``pick(prompt, options)``
    at log-prob log(0.9) and spreads the rest evenly. Every call is logged."""

    def __init__(
        self,
        reply: Callable[[list[Message]], str] = default_reply,
        pick: Callable[[list[Message], list[str], str], str] | None = None,
    ) -> None:
        self.name = "fake"
        self.model_id = "fake-model"
        self.reply = reply
        self.pick = pick or (lambda conv, options, prefix: options[0])
        self.generated: list[list[Message]] = []
        self.scored: list[tuple[list[Message], list[str], str]] = []
        self.closed = False

    @property
    def max_context(self) -> int:
        return 4096

    def generate(self, conversations: list[list[Message]], params: SamplingParams) -> list[str]:
        self.generated.extend(conversations)
        return [self.reply(c) for c in conversations]

    def score_options(
        self, prompts: list[list[Message]], options: list[str], assistant_prefix: str = ""
    ) -> list[list[float]]:
        out = []
        for conv in prompts:
            self.scored.append((conv, list(options), assistant_prefix))
            chosen = self.pick(conv, list(options), assistant_prefix)
            rest = math.log(0.1 / max(1, len(options) - 1))
            out.append([math.log(0.9) if o == chosen else rest for o in options])
        return out

    def close(self) -> None:
        self.closed = True
