"""SL-CAI (stage 1): critique–revision traces, and the SFT data set made from them.

For each prompt the model answers; then, for each of K rounds, it is shown the
principle the compiled jobs drew for that prompt and round
(:func:`caic.compiler.bind.sl_cai_jobs`), asked for a critique of its latest
answer through the principle's compiled critique record (the constitution's
few-shot turns, then the critique request with ``{{ conversation }}`` filled by
the transcript of the user prompt and that answer), and then asked for a
revision through the revision record appended after its critique. The revision
is the answer the next round critiques; the last one is ``final_response``.

Work is batched across prompts: a chunk of prompts goes through the initial
answer and every round together (one ``generate`` call per step), and its rows
are appended to the output as soon as the chunk finishes.

Prompts too long for the context window are **skipped and counted**, never
truncated: a truncated prompt would put text in the SFT data that the model
never saw. A prompt is kept when the longest conversation of its trace fits:
prompt + few-shot turns + critique and revision requests + three replies of
``max_new_tokens`` (answer, critique, revision) + chat markup.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

import caic
from caic.backends.base import Backend, Message, SamplingParams
from caic.compiler.prompts import fill, transcript
from caic.compiler.promptset import critique_records, revision_records
from caic.constitution_lang import sha256
from caic.constitution_lang.model import Constitution
from caic.errors import usage_error

SCHEMA_VERSION = 1
MARKUP_TOKENS = 8
"""Allowance per chat message for the template's role markers and separators."""


def default_prompts_path() -> Path:
    """The red-team prompt set shipped with caic (``{id, prompt, category}`` per line)."""
    return Path(str(resources.files("caic.training.data").joinpath("red_team.jsonl")))


class ConstitutionRef(BaseModel):
    """Which constitution produced a row."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """The constitution's name."""
    version: str | None
    """Its declared version, if any."""
    sha256: str
    """Content hash of its canonical text."""


class Sampling(BaseModel):
    """The sampling parameters every reply of a trace was generated with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float
    """Softmax temperature; 0 is greedy decoding."""
    top_p: float
    """Nucleus sampling mass."""
    max_new_tokens: int
    """Upper bound on each reply's length in tokens."""


class Round(BaseModel):
    """One critique–revision round of a trace."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    principle: str
    """Name of the principle drawn for this round."""
    critique_request: str
    """The filled critique request (user message) shown after the few-shot turns."""
    critique: str
    """The model's critique of its latest answer."""
    revision_request: str
    """The revision request (user message) shown after the critique."""
    revision: str
    """The model's revision: the answer the next round critiques."""


class TraceRow(BaseModel):
    """One prompt's whole SL-CAI trace: a row of ``caic sl-cai generate`` output."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    """Version of this row format."""
    id: str
    """The prompt's id in its prompt set."""
    prompt: str
    """The user prompt."""
    category: str | None
    """The prompt's harm category, when the prompt set gives one."""
    initial_response: str
    """The model's first answer, before any critique."""
    rounds: list[Round]
    """The K critique–revision rounds, in order."""
    final_response: str
    """The last revision (the initial response when there are no rounds)."""
    constitution: ConstitutionRef
    """The constitution whose principles, templates and examples were used."""
    model: str
    """The model that wrote every reply (the backend's model id)."""
    backend: str
    """The backend spec it ran on, e.g. ``default`` or ``openai:URL#MODEL``."""
    seed: int
    """Seed of the principle draws (and of sampling, when temperature > 0)."""
    sampling: Sampling
    """Sampling parameters of every reply."""
    caic_version: str
    """The caic version that wrote the row."""


class CritiquePlan:
    """The compiled critique and revision records of a constitution, by principle."""

    def __init__(self, c: Constitution) -> None:
        self.critique = {r["principle"]: r for r in critique_records(c)}
        self.revision = {r["principle"]: r for r in revision_records(c)}
        if not self.critique:
            raise usage_error(
                f"constitution {c.name!r} has no principle with both critique and revision",
                path=c.path or "<args>",
                hint="SL-CAI needs `critique` and `revision` texts on at least one principle",
            )

    def critique_messages(self, principle: str, prompt: str, answer: str) -> list[Message]:
        """Few-shot turns, then the critique request about ``prompt`` and ``answer``."""
        record = self.critique[principle]
        conv = transcript(
            [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
        )
        return [*record["few_shot"], *_filled(record, conv)]

    def revision_messages(self, principle: str, prompt: str, answer: str) -> list[Message]:
        """The revision request (its template may also show the conversation)."""
        conv = transcript(
            [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
        )
        return _filled(self.revision[principle], conv)

    def conversation_slots(self, principle: str) -> int:
        """How many times the critique and revision requests show the conversation."""
        records = (self.critique[principle], self.revision[principle])
        return sum(
            1
            for r in records
            for m in r["messages"]
            for part in m["parts"]
            if isinstance(part, dict) and part.get("slot") == "conversation"
        )


def _filled(record: dict[str, Any], conversation: str) -> list[Message]:
    return [
        {"role": m["role"], "content": fill(m["parts"], conversation=conversation, response="")}
        for m in record["messages"]
    ]


def call_seed(seed: int, stage: str, ids: list[str]) -> int:
    """A per-call sampling seed from the run seed, the step and the prompts in the chunk."""
    h = hashlib.sha256(f"{seed}\x00{stage}\x00{chr(0).join(ids)}".encode()).digest()
    return int.from_bytes(h[:4], "big") & 0x7FFFFFFF


def token_counter(backend: Backend) -> Callable[[str], int]:
    """Count tokens with the backend's tokenizer; else UTF-8 bytes (an upper bound for BPE)."""
    tok = getattr(backend, "tokenizer", None)
    if tok is not None and callable(tok):
        return lambda s: len(tok(s, add_special_tokens=False)["input_ids"])
    return lambda s: len(s.encode("utf-8"))


class Job(BaseModel):
    """One prompt to take through SL-CAI, with its K drawn principles (one per round)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    prompt: str
    category: str | None
    principles: tuple[str, ...]


def context_filter(
    plan: CritiquePlan,
    jobs: list[Job],
    backend: Backend,
    params: SamplingParams,
) -> tuple[list[Job], list[str]]:
    """Split jobs into those whose longest conversation fits the context, and skipped ids.

    The longest conversation of a trace is a round's revision step: few-shot turns,
    the critique request (showing prompt and answer), the critique, the revision
    request, and the revision still to generate. Replies count at their
    ``max_new_tokens`` bound; each message gets :data:`MARKUP_TOKENS` for the
    chat template's markers.
    """
    count = token_counter(backend)
    new = params.max_new_tokens
    fixed: dict[str, int] = {}
    shown: dict[str, int] = {}
    for name in plan.critique:
        msgs = [*plan.critique_messages(name, "", ""), *plan.revision_messages(name, "", "")]
        fixed[name] = sum(count(m["content"]) for m in msgs) + MARKUP_TOKENS * (len(msgs) + 2)
        shown[name] = plan.conversation_slots(name)

    def need(name: str, prompt_tokens: int) -> int:
        # Prompt and answer appear once per conversation slot; critique and revision once.
        return fixed[name] + shown[name] * (prompt_tokens + new) + 2 * new

    worst = max(need(name, 0) for name in fixed)
    if worst > backend.max_context:
        raise usage_error(
            f"the few-shot turns, requests and replies of --max-new-tokens {new} need "
            f"{worst} tokens, more than the {backend.max_context}-token context of "
            f"{backend.model_id}",
            hint="lower --max-new-tokens, or set `few_shot false` in the constitution",
        )
    keep, skipped = [], []
    for job in jobs:
        n = count(job.prompt)
        longest = max((need(p, n) for p in job.principles), default=n + new)
        if longest <= backend.max_context:
            keep.append(job)
        else:
            skipped.append(job.id)
    return keep, skipped


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def trace_batch(
    plan: CritiquePlan,
    jobs: list[Job],
    backend: Backend,
    params: SamplingParams,
    seed: int,
) -> list[tuple[str, list[Round]]]:
    """Run one chunk of jobs through the initial answer and every round; their traces.

    Each step is one batched ``generate`` call over the whole chunk. Returns
    ``(initial_response, rounds)`` per job, in order.
    """
    ids = [j.id for j in jobs]

    def gen(stage: str, convs: list[list[Message]]) -> list[str]:
        p = params.model_copy(update={"seed": call_seed(seed, stage, ids)})
        out = backend.generate(convs, p)
        if len(out) != len(convs):
            raise RuntimeError(f"backend returned {len(out)} replies for {len(convs)} prompts")
        return [s.strip() for s in out]

    answers = gen("initial", [[{"role": "user", "content": j.prompt}] for j in jobs])
    traces: list[tuple[str, list[Round]]] = [(a, []) for a in answers]
    k = len(jobs[0].principles) if jobs else 0
    for r in range(k):
        crit_convs = [
            plan.critique_messages(j.principles[r], j.prompt, a)
            for j, a in zip(jobs, answers, strict=True)
        ]
        critiques = gen(f"critique{r}", crit_convs)
        rev_convs = [
            [
                *conv,
                {"role": "assistant", "content": crit},
                *plan.revision_messages(j.principles[r], j.prompt, a),
            ]
            for conv, crit, j, a in zip(crit_convs, critiques, jobs, answers, strict=True)
        ]
        answers = gen(f"revision{r}", rev_convs)
        for t, j, cc, crit, rc, rev in zip(
            traces, jobs, crit_convs, critiques, rev_convs, answers, strict=True
        ):
            t[1].append(
                Round(
                    principle=j.principles[r],
                    critique_request=cc[-1]["content"],
                    critique=crit,
                    revision_request=rc[-1]["content"],
                    revision=rev,
                )
            )
    return traces


def generate_rows(
    c: Constitution,
    jobs: list[Job],
    backend: Backend,
    params: SamplingParams,
    *,
    seed: int,
    batch_size: int,
    backend_spec: str = "default",
    plan: CritiquePlan | None = None,
) -> Iterator[list[TraceRow]]:
    """Yield the complete :class:`TraceRow` of each chunk of ``batch_size`` jobs."""
    plan = plan or CritiquePlan(c)
    ref = ConstitutionRef(name=c.name, version=c.version, sha256=sha256(c))
    sampling = Sampling(
        temperature=params.temperature, top_p=params.top_p, max_new_tokens=params.max_new_tokens
    )
    for chunk in chunks(jobs, max(1, batch_size)):
        traces = trace_batch(plan, chunk, backend, params, seed)
        rows = []
        for job, (initial, rounds) in zip(chunk, traces, strict=True):
            row = TraceRow(
                id=job.id,
                prompt=job.prompt,
                category=job.category,
                initial_response=initial,
                rounds=rounds,
                final_response=rounds[-1].revision if rounds else initial,
                constitution=ref,
                model=backend.model_id,
                backend=backend_spec,
                seed=seed,
                sampling=sampling,
                caic_version=caic.__version__,
            )
            rows.append(row)
        yield rows


def make_jobs(c: Constitution, prompts: list[dict[str, Any]], rounds: int, seed: int) -> list[Job]:
    """The compiled SL-CAI jobs for ``prompts`` (``compiler.bind``'s draws)."""
    from caic.compiler.bind import sl_cai_jobs

    return [
        Job(
            id=j["prompt_id"],
            prompt=j["prompt"],
            category=None if j["category"] is None else str(j["category"]),
            principles=tuple(j["principles"]),
        )
        for j in sl_cai_jobs(c, prompts, rounds, seed)
    ]


def fingerprint(
    c: Constitution,
    *,
    model: str,
    seed: int,
    rounds: int,
    params: SamplingParams,
    prompts_sha256: str,
    prompt_column: str | None,
    limit: int | None,
) -> dict[str, Any]:
    """What a resumed run must share with the run that started the output file."""
    return {
        "kind": "sl-cai",
        "schema_version": SCHEMA_VERSION,
        "constitution_sha256": sha256(c),
        "model": model,
        "seed": seed,
        "rounds": rounds,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_new_tokens": params.max_new_tokens,
        "prompts_sha256": prompts_sha256,
        "prompt_column": prompt_column,
        "limit": limit,
    }


class ChatTurn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    role: str
    content: str


class SFTRow(BaseModel):
    """One row of ``caic sl-cai export`` output: a TRL conversational SFT example."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    id: str
    """The prompt's id (the trace's)."""
    messages: list[ChatTurn]
    """The user prompt and the final revision."""
    category: str | None
    principles: list[str]
    """The principle of each critique round, in order."""
    constitution_sha256: str
    constitution: str
    model: str
    seed: int
    schema_version: int = SCHEMA_VERSION
    caic_version: str


def sft_rows(
    rows: Iterable[tuple[int, dict[str, Any]]], path: str
) -> tuple[list[SFTRow], list[str]]:
    """TRL SFT rows (conversational ``messages``) from trace rows; and ids skipped as empty.

    Each trace row is validated against :class:`TraceRow`; a bad one is a
    ``path:line`` error. Rows whose final response is empty are skipped.
    """
    from caic.io import validate_row

    out: list[SFTRow] = []
    empty: list[str] = []
    for line, raw in rows:
        row = validate_row(TraceRow, raw, path=path, line=line, what="an sl-cai trace")
        if not row.final_response.strip():
            empty.append(row.id)
            continue
        out.append(
            SFTRow(
                id=row.id,
                messages=[
                    ChatTurn(role="user", content=row.prompt),
                    ChatTurn(role="assistant", content=row.final_response),
                ],
                category=row.category,
                principles=[r.principle for r in row.rounds],
                constitution_sha256=row.constitution.sha256,
                constitution=row.constitution.name,
                model=row.model,
                seed=row.seed,
                caic_version=caic.__version__,
            )
        )
    return out, empty
