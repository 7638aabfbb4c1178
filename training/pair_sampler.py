"""Stage-2 inputs: sampling response pairs from a policy, and reading pairs to label.

``caic rlaif pairs`` samples ``n`` completions per prompt (temperature > 0, seeded)
and writes one :class:`PairRow` per prompt: ``{id, prompt, response_a, response_b
(, response_c ...), model, seed, ...}``. Work goes in fixed chunks of prompts, each
sampled with its own seed derived from ``(seed, chunk index)``: a resumed run
regenerates a half-written chunk from the same inputs and seed, so it gets the same
rows, and the rows already on disk are skipped (:class:`caic.resumable.ResumableJsonl`).

:func:`read_pairs` reads pairs for labelling. It is :func:`caic.compiler.data.load_pairs`
(rlaif-pairs rows, TRL preference rows standard or conversational, HH-RLHF plain or
``.gz``, LLMBar), except that a row of ``rlaif pairs`` with three or more responses
becomes every unordered pair of them, with ids ``ID:ab``, ``ID:ac``, ``ID:bc`` ...
"""

from __future__ import annotations

import hashlib
import itertools
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

import caic
from caic.backends.base import Backend, SamplingParams
from caic.errors import usage_error

PAIRS_SCHEMA_VERSION = 1
MAX_RESPONSES = 8
SLOTS = string.ascii_lowercase[:MAX_RESPONSES]
"""Response slots: ``response_a`` ... ``response_h``."""


class PairRow(BaseModel):
    """One prompt with ``n`` sampled completions (the output of ``caic rlaif pairs``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    """The prompt's id."""
    prompt: str
    """The user prompt the completions answer."""
    category: str | None = None
    """The prompt's category, when the prompt set has one."""
    response_a: str
    """First sampled completion."""
    response_b: str
    """Second sampled completion."""
    response_c: str | None = None
    """Third completion (``--n 3`` and more); absent otherwise."""
    response_d: str | None = None
    """Fourth completion."""
    response_e: str | None = None
    """Fifth completion."""
    response_f: str | None = None
    """Sixth completion."""
    response_g: str | None = None
    """Seventh completion."""
    response_h: str | None = None
    """Eighth completion."""
    distinct: bool
    """False when every completion is the same text (a pair with nothing to judge)."""
    model: str
    """The policy that sampled the completions (backend model id)."""
    seed: int
    """The run's seed (each chunk of prompts uses a seed derived from it)."""
    temperature: float = Field(gt=0.0)
    """Sampling temperature."""
    top_p: float
    """Nucleus sampling mass."""
    max_new_tokens: int
    """Upper bound on tokens per completion."""
    schema_version: int = PAIRS_SCHEMA_VERSION
    """Version of this row layout."""
    caic_version: str = caic.__version__
    """The caic that wrote the row."""

    def row(self) -> dict[str, Any]:
        """The JSON object written to the file (unused response slots left out)."""
        unused = {f"response_{s}" for s in SLOTS[2:] if getattr(self, f"response_{s}") is None}
        return self.model_dump(mode="json", exclude=unused)


def chunk_seed(seed: int, index: int) -> int:
    """The sampling seed of chunk ``index``: stable across runs, distinct across chunks."""
    digest = hashlib.sha256(f"caic-rlaif-pairs:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def sample_pairs(
    prompts: list[dict[str, Any]],
    policy: Backend,
    *,
    n: int = 2,
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_new_tokens: int = 256,
    seed: int = 0,
    chunk_size: int = 8,
    done: set[str] | frozenset[str] = frozenset(),
) -> Iterator[list[dict[str, Any]]]:
    """Sample ``n`` completions per prompt; yield the rows of each chunk of prompts.

    ``prompts`` are ``load_prompts`` rows (``{id, prompt, category}``). Chunks whose
    prompts are all in ``done`` are skipped without sampling; a chunk with some done
    is sampled whole (same inputs and seed, same rows) and every row is yielded, so
    the caller's resumable writer drops the duplicates.
    """
    if not 2 <= n <= MAX_RESPONSES:
        raise usage_error(f"--n must be between 2 and {MAX_RESPONSES}, got {n}")
    if temperature <= 0:
        raise usage_error(
            "--temperature must be above 0: greedy decoding gives the same completion n times"
        )
    for k in range(0, len(prompts), chunk_size):
        chunk = prompts[k : k + chunk_size]
        if all(p["id"] in done for p in chunk):
            continue
        params = SamplingParams(
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            seed=chunk_seed(seed, k // chunk_size),
        )
        convs = [[{"role": "user", "content": p["prompt"]}] for p in chunk for _ in range(n)]
        texts = policy.generate(convs, params)
        rows = []
        for i, p in enumerate(chunk):
            outs = [t.strip() for t in texts[i * n : (i + 1) * n]]
            row = PairRow(
                id=str(p["id"]),
                prompt=p["prompt"],
                category=p.get("category"),
                **{f"response_{s}": t for s, t in zip(SLOTS, outs, strict=False)},
                distinct=len(set(outs)) > 1,
                model=policy.model_id,
                seed=seed,
                temperature=temperature,
                top_p=top_p,
                max_new_tokens=max_new_tokens,
            )
            rows.append(row.row())
        yield rows


def read_pairs(source: str) -> list[dict[str, Any]]:
    """Pairs ``{id, conversation, response_a, response_b, gold}`` from any supported input.

    Rows of ``caic rlaif pairs`` with more than two responses are expanded into all
    their unordered pairs; everything else goes through ``load_pairs`` unchanged.
    """
    from caic.compiler.data import load_pairs

    multi = _multi_response_rows(source)
    if not multi:
        return load_pairs(source)
    out: list[dict[str, Any]] = []
    for pair in load_pairs(source):
        extra = multi.get(pair["id"])
        if extra is None:
            out.append(pair)
            continue
        for x, y in itertools.combinations(sorted(extra), 2):
            out.append(
                {
                    "id": f"{pair['id']}:{x}{y}",
                    "conversation": pair["conversation"],
                    "response_a": extra[x],
                    "response_b": extra[y],
                    "gold": None,
                }
            )
    return out


def _multi_response_rows(source: str) -> dict[str, dict[str, str]]:
    """``{id: {slot: text}}`` for rows carrying ``response_c`` or later; empty otherwise."""
    p = Path(source)
    if not p.is_file() or not p.name.removesuffix(".gz").endswith(".jsonl"):
        return {}
    from caic.io import read_jsonl

    found: dict[str, dict[str, str]] = {}
    for line, row in read_jsonl(p):
        if "response_c" not in row:
            continue
        slots = {s: str(row[f"response_{s}"]) for s in SLOTS if row.get(f"response_{s}")}
        found[str(row.get("id") or f"{p.name}:{line}")] = slots
    return found
