"""``caic eval``'s config, :class:`EvalConfig`: the options of the command as data.

Kept apart from :mod:`caic.evals.run` so that the command line can build its options from it
without importing the suites and the refusal model (numpy) on every start.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from caic.config import Config, known
from caic.errors import usage_error
from caic.evals.loaders import SUITES as SUITE_NAMES

Format = Literal["human", "json"]


class EvalConfig(Config):
    """Everything that defines an eval run: the options of ``caic eval``, as data.

    ``suites`` and ``data`` also take the command line's forms (a comma-separated string;
    a list of ``FILE`` or ``SUITE=FILE`` entries); a malformed one raises caic's
    :class:`~caic.errors.UsageError`, with the message the command prints.
    """

    suites: tuple[str, ...]
    """Comma-separated: harmlessness, over-refusal, sycophancy, label-agreement."""
    out: Path
    """The run directory."""
    model: str | None = None
    """Backend spec under test (default: the embedded SmolLM2-135M-Instruct)."""
    judge: str | None = None
    """A model judge (backend spec) for refusal classes and harm."""
    data: dict[str, str] = Field(default_factory=dict)
    """Data instead of the default set: FILE or HF id (one suite), or SUITE=FILE_OR_HF_ID;
    repeatable."""
    constitution: str | None = None
    """The constitution under test (.cai or name)."""
    system_prompt: bool = False
    """Render the constitution into the system message of the generating suites."""
    limit: int | None = Field(None, ge=1)
    """At most N items per suite."""
    seed: int = 0
    """Subset, draws and intervals."""
    batch_size: int = Field(16, ge=1)
    """Items per model call (and per append to `samples.jsonl`)."""
    max_new_tokens: int = Field(256, ge=1)
    """Reply length for the generating suites."""
    format: Format = "human"
    """human or json (the manifest)."""
    # ``format`` is how ``caic eval`` prints the manifest; :func:`run_eval` does not read it.

    @field_validator("suites", mode="before")
    @classmethod
    def _split_suites(cls, value: object) -> object:
        """Suite names in run order; a string is a comma-separated list."""
        if isinstance(value, str):
            value = tuple(s.strip() for s in value.split(",") if s.strip())
        if isinstance(value, tuple | list) and not value:
            raise usage_error("--suite names no suite")
        return value

    @field_validator("data", mode="before")
    @classmethod
    def _data_map(cls, value: object, info: ValidationInfo) -> object:
        """Per-suite data source: ``FILE`` (one suite) or ``SUITE=FILE`` entries."""
        if value is None:
            return {}
        if not isinstance(value, list | tuple):
            return value
        suites: tuple[str, ...] = info.data.get("suites", ())
        out: dict[str, str] = {}
        for d in value:
            name, sep, source = d.partition("=")
            if sep and name in SUITE_NAMES:
                out[name] = source
            elif len(suites) == 1:
                out[suites[0]] = d
            else:
                raise usage_error(
                    f"--data {d!r}: with several suites, name the suite",
                    hint="e.g. --data over-refusal=xstest_prompts.csv",
                )
        return out

    @field_validator("format", mode="before")
    @classmethod
    def _known_format(cls, value: object) -> object:
        return known(value, typing.get_args(Format), "--format")
