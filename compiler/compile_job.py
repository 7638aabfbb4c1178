"""The compile job as a library call: :func:`compile_job` takes one :class:`CompileConfig`
and writes a PromptSet directory (bound to data when the config names some).

``caic compile`` builds the config from its options and calls this function; Python
callers do the same::

    from caic.compiler.compile_job import CompileConfig, compile_job
    compile_job(CompileConfig(file="hhh-v2", out="build/v2", prompts="prompts.jsonl"))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from caic.config import Config, known

COMPILE_FORMATS = ("jsonl", "hf")


class CompileConfig(Config):
    """``caic compile``: a constitution, where to write it, and the data to bind."""

    file: Path
    """The constitution: a path, or the name of a shipped one (hhh-v2, cai-2022-harmless,
    ...)."""
    out: Path | None = None
    """Output directory (default: NAME.promptset next to the file)."""
    prompts: str | None = None
    """Prompts to bind (JSONL, CSV or a HF dataset id)."""
    pairs: str | None = None
    """Response pairs to bind."""
    prompt_column: str | None = None
    """Column of --prompts holding the prompt text (default: guessed)."""
    rounds: int | None = Field(default=None, ge=1, le=8)
    """K critique rounds (default: settings)."""
    seed: int | None = None
    """Seed for draws (default: settings)."""
    principles_per_pair: int = Field(default=1, ge=1)
    """Principles drawn for each pair of --pairs."""
    format: Literal["jsonl", "hf"] = "jsonl"
    """jsonl or hf (a datasets.DatasetDict)."""

    @field_validator("format", mode="before")
    @classmethod
    def _known_format(cls, value: object) -> object:
        return known(value, COMPILE_FORMATS, "--format")


class CompileResult(BaseModel):
    """What :func:`compile_job` wrote."""

    out: Path
    """The PromptSet directory."""
    format: Literal["jsonl", "hf"]
    records: dict[str, int]
    """Records per file of the PromptSet (``critique.jsonl``: 42, ...), as the manifest
    lists them."""


def compile_job(cfg: CompileConfig) -> CompileResult:
    """Compile ``cfg.file`` into a PromptSet directory, with ``sl_cai_jobs.jsonl`` bound to
    ``cfg.prompts`` and ``judge_jobs.jsonl`` to ``cfg.pairs`` when given. Same inputs and
    seed give byte-identical files; the directory appears whole or not at all."""
    from caic.compiler import bind, data
    from caic.compiler.promptset import write_promptset
    from caic.constitution_lang import load
    from caic.constitutions import find

    file = find(str(cfg.file))
    c = load(file)
    seed = c.settings.seed if cfg.seed is None else cfg.seed
    jobs = {}
    if cfg.prompts:
        rows = data.load_prompts(cfg.prompts, cfg.prompt_column)
        jobs["sl_cai_jobs.jsonl"] = bind.sl_cai_jobs(c, rows, cfg.rounds, seed)
    if cfg.pairs:
        jobs["judge_jobs.jsonl"] = bind.judge_jobs(
            c, data.load_pairs(cfg.pairs), cfg.principles_per_pair, seed
        )
    target = cfg.out or file.with_suffix(".promptset")
    man: dict[str, Any]
    if cfg.format == "hf":
        from caic.compiler.hf import write_hf

        man = write_hf(c, target, seed, jobs)
    else:
        man = write_promptset(c, target, seed, jobs)
    records = {name: int(v["records"]) for name, v in man["files"].items()}
    return CompileResult(out=target, format=cfg.format, records=records)
