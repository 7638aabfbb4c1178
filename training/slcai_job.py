"""The SL-CAI jobs as library calls: :func:`generate` (critique–revision traces) and
:func:`export` (the SFT data set made from them), each taking one config.

``caic sl-cai generate`` and ``caic sl-cai export`` build these configs from their options
and call these functions; the pipeline and Python callers do the same::

    from caic.training.slcai_job import GenerateConfig, generate
    generate(GenerateConfig(constitution="hhh-v2", out="sl.jsonl", limit=8, rounds=1))
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from caic.config import Config
from caic.errors import usage_error
from caic.progress import Progress, Say, no_progress, quiet

if TYPE_CHECKING:
    from caic.training.slcai import Job


class _Config(Config):
    """A job config."""


class GenerateConfig(_Config):
    """``caic sl-cai generate``: one critique–revision trace per prompt."""

    constitution: str
    """A `.cai` file or a shipped name (hhh-v2, ...)."""
    out: Path
    """Output JSONL of traces."""
    prompts: str | None = None
    """Prompts: JSONL, CSV, Parquet or a HF dataset id (default: the shipped red-team set)."""
    prompt_column: str | None = None
    """Column holding the prompt text (default: guessed)."""
    model: str | None = None
    """Backend spec: transformers:PATH_OR_ID, openai:URL#MODEL, vllm:ID (default: the
    embedded SmolLM2-135M-Instruct)."""
    rounds: int | None = Field(default=None, ge=1, le=8)
    """K critique rounds (default: settings)."""
    seed: int | None = None
    """Seed of the draws (default: settings)."""
    max_new_tokens: int = Field(default=256, ge=1)
    """Bound on each reply."""
    batch_size: int = Field(default=16, ge=1)
    """Prompts generated together."""
    temperature: float = Field(default=0.0, ge=0.0)
    """0 = greedy (reproducible)."""
    top_p: float = Field(default=1.0, ge=0.0, le=1.0)
    """Nucleus sampling mass."""
    limit: int | None = Field(default=None, ge=1)
    """Only the first N prompts."""


class GenerateResult(BaseModel):
    """What :func:`generate` did."""

    out: Path
    total: int
    """Prompts in the job (after ``limit``)."""
    resumed: int
    """Prompts already in ``out`` from an earlier run."""
    written: int
    """Traces written by this call."""
    skipped: list[str]
    """Ids of prompts too long for the model's context window (not written)."""
    seconds: float


def generate(
    cfg: GenerateConfig, *, say: Say = quiet, progress: Progress = no_progress
) -> GenerateResult:
    """Write one critique–revision trace per prompt to ``cfg.out`` (JSONL), resuming a run
    with the same inputs and refusing one with other inputs."""
    from caic.backends.base import SamplingParams
    from caic.compiler.data import load_prompts
    from caic.constitution_lang import load
    from caic.constitutions import find
    from caic.io import source_sha256
    from caic.resumable import ResumableJsonl
    from caic.training import slcai

    c = load(find(cfg.constitution))
    source = cfg.prompts or str(slcai.default_prompts_path())
    rows = load_prompts(source, cfg.prompt_column)
    if cfg.limit is not None:
        rows = rows[: cfg.limit]
    if not rows:
        raise usage_error(f"no prompts in {source}")
    prompts_sha = source_sha256(source, rows)
    rounds = c.settings.critique_rounds if cfg.rounds is None else cfg.rounds
    seed = c.settings.seed if cfg.seed is None else cfg.seed
    params = SamplingParams(
        temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens
    )
    plan = slcai.CritiquePlan(c)  # refuses a constitution SL-CAI cannot use, before any output
    jobs = slcai.make_jobs(c, rows, rounds, seed)
    spec = cfg.model or "default"
    fp = slcai.fingerprint(
        c,
        model=spec,
        seed=seed,
        rounds=rounds,
        params=params,
        prompts_sha256=prompts_sha,
        prompt_column=cfg.prompt_column,
        limit=cfg.limit,
    )
    t0 = time.perf_counter()
    with ResumableJsonl(cfg.out, fp, key="id") as sink:
        todo = [j for j in jobs if j.id not in sink.done]
        already = len(jobs) - len(todo)
        if not todo:
            say(f"{cfg.out}: all {len(jobs)} prompts already done")
            return GenerateResult(
                out=cfg.out, total=len(jobs), resumed=already, written=0, skipped=[], seconds=0.0
            )
        if already:
            say(f"{cfg.out}: resuming, {already} of {len(jobs)} prompts already done")
        written, skipped = _run(cfg, c, plan, todo, already, params, seed, sink, say, progress)
    return GenerateResult(
        out=cfg.out,
        total=len(jobs),
        resumed=already,
        written=written,
        skipped=skipped,
        seconds=time.perf_counter() - t0,
    )


def _run(
    cfg: GenerateConfig,
    c: Any,
    plan: Any,
    todo: list[Job],
    already: int,
    params: Any,
    seed: int,
    sink: Any,
    say: Say,
    progress: Progress,
) -> tuple[int, list[str]]:
    """Load the backend, drop prompts too long for it, generate batch by batch."""
    from caic.backends.registry import get_backend, parse_spec
    from caic.training import slcai

    kw: dict[str, Any] = {}
    if parse_spec(cfg.model).kind == "transformers":
        kw["batch_size"] = cfg.batch_size  # one forward batch per chunk
    spec = cfg.model or "default"
    say(f"loading model {spec} ...")
    with get_backend(cfg.model, **kw) as backend:
        todo, skipped = slcai.context_filter(plan, todo, backend, params)
        total = already + len(todo)
        done = already
        progress("sl-cai", done, total)
        for rows in slcai.generate_rows(
            c,
            todo,
            backend,
            params,
            seed=seed,
            batch_size=cfg.batch_size,
            backend_spec=spec,
            plan=plan,
        ):
            sink.append([r.model_dump(mode="json") for r in rows])
            done += len(rows)
            progress("sl-cai", done, total)
    return done - already, skipped


class ExportConfig(_Config):
    """``caic sl-cai export``: the TRL SFT data set from SL-CAI traces."""

    in_: Path = Field(alias="in")
    """Traces from `sl-cai generate`."""
    out: Path
    """Output file (or folder for hf)."""
    format: Literal["jsonl", "hf"] = "jsonl"
    """jsonl, or hf (a datasets.Dataset folder)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True, populate_by_name=True)


class ExportResult(BaseModel):
    """What :func:`export` wrote."""

    out: Path
    rows: int
    empty: int
    """Traces skipped because their final response was empty."""


def export(cfg: ExportConfig, *, say: Say = quiet) -> ExportResult:
    """Write one SFT row (conversational ``messages``) per usable trace, whole or not at all."""
    from caic.io import atomic_dir, atomic_write, dumps_json, read_jsonl
    from caic.training import slcai

    rows, empty = slcai.sft_rows(read_jsonl(cfg.in_), str(cfg.in_))
    if not rows:
        raise usage_error(f"{cfg.in_} holds no usable traces")
    if cfg.format == "hf":
        import datasets

        with atomic_dir(cfg.out) as tmp:
            datasets.Dataset.from_list([r.model_dump(mode="json") for r in rows]).save_to_disk(
                str(tmp)
            )
    else:
        with atomic_write(cfg.out) as f:
            for r in rows:
                f.write(dumps_json(r.model_dump(mode="json")) + "\n")
    if empty:
        say(f"skipped {len(empty)} trace(s) with an empty final response")
    return ExportResult(out=cfg.out, rows=len(rows), empty=len(empty))
