"""The RLAIF jobs as library calls: :func:`pairs` (response sets from a policy),
:func:`label` (AI preference labels), :func:`audit` (measures of those labels) and
:func:`probe` (principles that conflict or coincide in practice), each taking one config.

``caic rlaif pairs | label | audit | probe`` build these configs from their options and
call these functions; the pipeline and Python callers do the same::

    from caic.training.rlaif_job import LabelConfig, label
    label(LabelConfig(constitution="hhh-v2", pairs="pairs.jsonl", out="labels.jsonl"))
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from caic.config import Config
from caic.errors import Diagnostic, usage_error
from caic.io import source_sha256
from caic.progress import Progress, Say, no_progress, quiet


class _Config(Config):
    """A job config."""


class PairsConfig(_Config):
    """``caic rlaif pairs``: ``n`` sampled completions per prompt."""

    prompts: str
    """Prompts: JSONL, CSV or a HF id."""
    out: Path
    """Output JSONL of response sets."""
    model: str | None = None
    """Backend spec: transformers:PATH_OR_ID, openai:URL#MODEL, vllm:ID (default: the
    embedded SmolLM2-135M-Instruct)."""
    n: int = Field(default=2, ge=2, le=8)
    """Completions per prompt."""
    temperature: float = 1.0
    """Sampling temperature (> 0)."""
    # top_p, max_new_tokens and prompt_column carry no docstring: the command shows no
    # help for them (their flags say what they are).
    top_p: float = Field(default=1.0, ge=0.0, le=1.0)
    max_new_tokens: int = Field(default=256, ge=1)
    seed: int = 0
    """Seed of the sampling."""
    limit: int | None = Field(default=None, ge=1)
    """Only the first N rows."""
    prompt_column: str | None = None
    chunk_size: int = Field(default=8, ge=1)
    """Prompts sampled (and written) together."""

    @field_validator("temperature")
    @classmethod
    def _above_zero(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("must be above 0 (greedy decoding repeats one reply)")
        return v


class PairsResult(BaseModel):
    """What :func:`pairs` did."""

    out: Path
    total: int
    """Prompts in the job (after ``limit``)."""
    resumed: int
    """Prompts already in ``out`` from an earlier run."""
    written: int
    """Prompts sampled by this call."""
    seconds: float


def pairs(cfg: PairsConfig, *, say: Say = quiet, progress: Progress = no_progress) -> PairsResult:
    """Write ``cfg.n`` completions per prompt to ``cfg.out`` (JSONL), chunk by chunk,
    resuming a run with the same inputs and refusing one with other inputs."""
    from caic.backends.registry import get_backend
    from caic.compiler.data import load_prompts
    from caic.resumable import ResumableJsonl
    from caic.training.pair_sampler import sample_pairs

    rows = load_prompts(cfg.prompts, cfg.prompt_column)
    if cfg.limit is not None:
        rows = rows[: cfg.limit]
    if not rows:
        raise usage_error(f"no prompts in {cfg.prompts}")
    fp = {
        "command": "rlaif pairs",
        "prompts_sha256": source_sha256(cfg.prompts, rows),
        "prompt_column": cfg.prompt_column,
        "model": cfg.model or "default",
        "n": cfg.n,
        "temperature": cfg.temperature,
        "top_p": cfg.top_p,
        "max_new_tokens": cfg.max_new_tokens,
        "seed": cfg.seed,
        "chunk_size": cfg.chunk_size,
    }
    t0 = time.perf_counter()
    with ResumableJsonl(cfg.out, fp, key="id") as sink:
        already = sum(1 for r in rows if r["id"] in sink.done)
        if already == len(rows):
            say(f"{cfg.out}: all {len(rows)} prompts already done")
            return PairsResult(
                out=cfg.out, total=len(rows), resumed=already, written=0, seconds=0.0
            )
        if already:
            say(f"{cfg.out}: resuming, {already} of {len(rows)} prompts already done")
        say(f"loading model {cfg.model or 'default'} ...")
        with get_backend(cfg.model) as policy:
            done = already
            progress("pairs", done, len(rows))
            for chunk in sample_pairs(
                rows, policy, n=cfg.n, temperature=cfg.temperature, top_p=cfg.top_p,
                max_new_tokens=cfg.max_new_tokens, seed=cfg.seed, chunk_size=cfg.chunk_size,
                done=frozenset(sink.done),
            ):  # fmt: skip
                done += sum(1 for r in chunk if r["id"] not in sink.done)
                sink.append(chunk)
                progress("pairs", done, len(rows))
    return PairsResult(
        out=cfg.out,
        total=len(rows),
        resumed=already,
        written=len(rows) - already,
        seconds=time.perf_counter() - t0,
    )


class LabelConfig(_Config):
    """``caic rlaif label``: AI preference labels for response pairs."""

    constitution: str
    """A `.cai` file or a shipped name (hhh-v2)."""
    pairs: str
    """Pairs: `rlaif pairs` output, TRL preference rows, HH-RLHF (.gz), LLMBar."""
    out: Path
    """Output JSONL of labels."""
    judge: str | None = None
    """Judge backend spec (default: the embedded SmolLM2-135M)."""
    principles: Literal["sample", "all"] | int = "sample"
    """sample (one draw), all, or N draws per pair."""
    mode: Literal["pairwise", "pointwise"] | None = None
    """pairwise or pointwise (default: the constitution's)."""
    cot: bool | None = None
    """Reason before answering (default: constitution)."""
    seed: int | None = None
    """Seed of the draws (default: settings)."""
    limit: int | None = Field(default=None, ge=1)
    """Only the first N rows."""
    batch_size: int = Field(default=16, ge=1)
    """Pairs per call."""
    cot_max_new_tokens: int = Field(default=256, ge=1)
    """Bound on CoT reasoning."""

    @field_validator("principles", mode="before")
    @classmethod
    def _principles(cls, value: Any) -> str | int:
        """``sample``, ``all``, or a positive number (also given as text: ``"3"``)."""
        if value in ("sample", "all"):
            return str(value)
        try:
            k = int(value)
        except (TypeError, ValueError):
            k = 0
        if k < 1 or isinstance(value, bool | float):
            raise ValueError(f"must be sample, all or a positive number, got `{value}`")
        return k


class LabelResult(BaseModel):
    """What :func:`label` did."""

    out: Path
    total: int
    """Pairs in the job (after ``limit``)."""
    resumed: int
    """Pairs already labelled in ``out`` by an earlier run."""
    labelled: int
    """Pairs labelled by this call."""
    abstained: int
    """Pairs the judge abstained on in this call (written with no label)."""
    seconds: float


def _unique_ids(rows: list[dict[str, Any]], source: str) -> None:
    """Labels are keyed by pair id (for resuming), so ids must be unique."""
    seen: set[str] = set()
    for r in rows:
        if r["id"] in seen:
            raise usage_error(
                f"duplicate pair id `{r['id']}` in {source}", hint="give each row an `id`"
            )
        seen.add(r["id"])


def label(cfg: LabelConfig, *, say: Say = quiet, progress: Progress = no_progress) -> LabelResult:
    """Label each pair in ``cfg.pairs`` with the judge against the constitution's
    principles, appending rows to ``cfg.out`` (JSONL); resumes a run with the same inputs
    and refuses one with other inputs."""
    from caic.backends.registry import get_backend
    from caic.constitution_lang import load, sha256
    from caic.constitutions import find
    from caic.resumable import ResumableJsonl
    from caic.training.labeller import label_pairs
    from caic.training.pair_sampler import read_pairs

    c = load(find(cfg.constitution))
    mode = cfg.mode or c.settings.judge.mode
    cot = cfg.cot
    if cot is None:
        cot = c.settings.judge.chain_of_thought and mode == "pairwise"
    seed = c.settings.seed if cfg.seed is None else cfg.seed
    rows = read_pairs(cfg.pairs)
    if cfg.limit is not None:
        rows = rows[: cfg.limit]
    if not rows:
        raise usage_error(f"no pairs in {cfg.pairs}")
    _unique_ids(rows, cfg.pairs)
    fp = {
        "command": "rlaif label",
        "constitution_sha256": sha256(c),
        "pairs_sha256": source_sha256(cfg.pairs, rows),
        "judge": cfg.judge or "default",
        "principles": cfg.principles,
        "mode": mode,
        "cot": cot,
        "cot_max_new_tokens": cfg.cot_max_new_tokens if cot else None,
        "seed": seed,
    }
    t0 = time.perf_counter()
    counts = {"labelled": 0, "abstained": 0}
    with ResumableJsonl(cfg.out, fp, key="id") as sink:
        already = sum(1 for r in rows if r["id"] in sink.done)
        if already == len(rows):
            say(f"{cfg.out}: all {len(rows)} pairs already labelled")
            return LabelResult(out=cfg.out, total=len(rows), resumed=already, labelled=0,
                               abstained=0, seconds=0.0)  # fmt: skip
        if already:
            say(f"{cfg.out}: resuming, {already} of {len(rows)} pairs already labelled")
        say(f"loading judge {cfg.judge or 'default'} ...")
        with get_backend(cfg.judge) as backend:
            progress("label", already, len(rows))
            for row in label_pairs(
                c, rows, backend, mode=mode, principles=cfg.principles, cot=cot, seed=seed,
                batch_size=cfg.batch_size, skip=frozenset(sink.done),
                cot_max_new_tokens=cfg.cot_max_new_tokens,
            ):  # fmt: skip
                sink.append([row])
                counts["abstained" if row["abstained"] else "labelled"] += 1
                progress("label", already + sum(counts.values()), len(rows))
    return LabelResult(
        out=cfg.out,
        total=len(rows),
        resumed=already,
        seconds=time.perf_counter() - t0,
        **counts,
    )


class AuditConfig(_Config):
    """``caic rlaif audit``: measures of a file of AI labels."""

    labels: Path
    """Labels from `rlaif label`."""
    gold: str | None = None
    """Human preferences by id: `{id, gold: a|b}` rows, or any pair file with
    chosen/rejected (matched by response text)."""
    format: Literal["human", "json"] = "human"
    """human or json."""


class AuditResult(BaseModel):
    """What :func:`audit` measured."""

    report: dict[str, Any]
    """The measures (see :func:`caic.training.label_audit.audit`); ``None`` where one cannot be
    computed."""


def audit(cfg: AuditConfig, *, say: Say = quiet) -> AuditResult:
    """Position consistency, first-slot rate, length bias, abstentions and, with gold
    preferences, accuracy, Cohen's κ, ECE and Brier, overall and per principle."""
    from caic.training.label_audit import audit as measure
    from caic.training.label_audit import gold_from_file
    from caic.training.labeller import read_labels

    rows = read_labels(str(cfg.labels), include_abstained=True)
    if not rows:
        raise usage_error(f"{cfg.labels} holds no label rows")
    gold_map = gold_from_file(cfg.gold, rows) if cfg.gold else None
    if cfg.gold and not gold_map:
        say(f"warning: no label row matched a gold preference in {cfg.gold}")
    return AuditResult(report=measure(rows, gold_map))


class ProbeConfig(_Config):
    """``caic rlaif probe``: behavioural lint of a constitution's principles."""

    constitution: str
    """A `.cai` file or a shipped name (hhh-v2)."""
    pairs: str
    """Probe pairs (any `--pairs` format)."""
    judge: str | None = None
    """Judge backend spec (default: the embedded SmolLM2-135M)."""
    mode: Literal["pairwise", "pointwise"] | None = None
    """pairwise or pointwise (default: the constitution's)."""
    limit: int | None = Field(default=None, ge=1)
    """Only the first N rows."""
    format: Literal["human", "json"] = "human"
    """human or json."""


class ProbeResult(BaseModel):
    """What :func:`probe` found."""

    diagnostics: list[Diagnostic]
    """CAI901 (conflict-in-practice) and CAI902 (redundant-in-practice) findings."""
    principles: int
    """Principles probed (those with a judge text)."""
    pairs: int
    """Probe pairs each of them labelled."""


def probe(cfg: ProbeConfig, *, say: Say = quiet) -> ProbeResult:
    """Label every probe pair with every principle that has a judge text, and report the
    principle pairs whose votes anti-correlate (unless a tension declares them) or
    coincide."""
    from caic.backends.registry import get_backend
    from caic.constitution_lang import load
    from caic.constitutions import find
    from caic.training.pair_sampler import read_pairs
    from caic.training.principle_probe import probe_principles

    c = load(find(cfg.constitution))
    rows = read_pairs(cfg.pairs)[: cfg.limit] if cfg.limit else read_pairs(cfg.pairs)
    if not rows:
        raise usage_error(f"no pairs in {cfg.pairs}")
    n_judge = sum(1 for p in c.principles if p.judge)
    say(f"probing {n_judge} principles over {len(rows)} pairs with {cfg.judge or 'default'} ...")
    with get_backend(cfg.judge) as backend:
        diags = probe_principles(c, rows, backend, mode=cfg.mode)
    return ProbeResult(diagnostics=diags, principles=n_judge, pairs=len(rows))
