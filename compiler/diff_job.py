"""``caic diff`` as a library call: :func:`diff` loads two constitutions (paths or shipped
names) and gives their semantic diff, rendered, taking one config.

``caic diff`` builds :class:`DiffConfig` from its arguments and options and calls
:func:`diff`; Python callers do the same::

    from caic.compiler.diff_job import DiffConfig, diff
    result = diff(DiffConfig(old="cai-2022-harmless", new="hhh-v2", format="md"))
    result.diff.changes, result.text

The comparison itself is :func:`caic.compiler.diff.diff` (on loaded constitutions); its
human and Markdown forms are :mod:`caic.compiler.diff_render`'s.
"""

from __future__ import annotations

import json
import typing
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from caic.compiler.diff import RENAME_THRESHOLD, ConstitutionDiff
from caic.config import Config, known
from caic.errors import CaicError, usage_error

Format = Literal["human", "json", "md"]


class DiffConfig(Config):
    """``caic diff``: what changed in meaning from one constitution to another."""

    old: str
    """The old constitution: a path or a shipped name."""
    new: str
    """The new constitution: a path or a shipped name."""
    format: Format = "human"
    """human, json or md."""
    rename_threshold: float = Field(RENAME_THRESHOLD, ge=0.0, le=1.0)
    """Text similarity at which an unmatched removed/added pair counts as a rename."""

    @field_validator("format", mode="before")
    @classmethod
    def _known_format(cls, value: object) -> object:
        return known(value, typing.get_args(Format), "--format")


class DiffResult(BaseModel):
    """What :func:`diff` found."""

    diff: ConstitutionDiff
    text: str
    """``diff`` in the configured format, as ``caic diff`` prints it (ends with a newline)."""


def diff(cfg: DiffConfig) -> DiffResult:
    """The semantic diff of ``cfg.old`` → ``cfg.new``. A name that is neither a file nor a
    shipped constitution is a usage error; a file that does not parse or check raises its
    diagnostics with exit code 2."""
    from caic.compiler.diff import diff as semantic_diff
    from caic.compiler.diff_render import render_human, render_markdown
    from caic.constitution_lang import load
    from caic.constitutions import find

    loaded = []
    for arg in (cfg.old, cfg.new):
        path = find(arg)
        if not path.exists():
            raise usage_error(f"no such constitution: {arg}", hint="give a path or a shipped name")
        try:
            loaded.append(load(path))
        except CaicError as e:
            # Not a usage error (no usage line): the file's own diagnostics, exit 2.
            raise CaicError(e.diagnostics, exit_code=2) from e
    d = semantic_diff(loaded[0], loaded[1], cfg.rename_threshold)
    if cfg.format == "json":
        text = json.dumps(d.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
    elif cfg.format == "md":
        text = render_markdown(d)
    else:
        text = render_human(d)
    return DiffResult(diff=d, text=text)
