"""The format job as a library call: :func:`format_files` takes one :class:`FormatConfig`
and rewrites `.cai` files in canonical form (:func:`~caic.constitution_lang.format_text`,
comments and ``extends`` kept), or, with ``check``, only reports which would change.

``caic fmt`` builds the config from its options and calls this function; Python callers do
the same::

    from caic.constitution_lang.format_job import FormatConfig, format_files
    result = format_files(FormatConfig(files=["mine.cai"], check=True))
"""

from __future__ import annotations

import difflib
from pathlib import Path

from pydantic import BaseModel

from caic.config import Config
from caic.errors import CaicError, Diagnostic
from caic.progress import Say, quiet


class FormatConfig(Config):
    """``caic fmt``: the files, and whether to rewrite them."""

    files: list[Path]
    """`.cai` files to rewrite."""
    check: bool = False
    """Rewrite nothing; exit 1 and print a diff when a file would change."""


class FormatResult(BaseModel):
    """What :func:`format_files` did (or, with ``check``, would do)."""

    changed: list[Path]
    """Files rewritten (with ``check``: files that would be)."""
    diff: str
    """With ``check``, a unified diff (current → formatted) of each file that would change;
    empty otherwise."""
    errors: list[Diagnostic]
    """Files that could not be read or parsed (left as they are)."""


def format_files(cfg: FormatConfig, *, say: Say = quiet) -> FormatResult:
    """Rewrite each file of ``cfg.files`` that is not in canonical form, atomically, saying
    ``formatted PATH`` after each; with ``cfg.check`` write nothing and return the diffs.
    A file that cannot be read or parsed is an error of the result and is skipped."""
    from caic.constitution_lang import format_text
    from caic.constitution_lang.parser import read_source
    from caic.io import write_text_atomic

    changed: list[Path] = []
    diffs: list[str] = []
    errors: list[Diagnostic] = []
    for f in cfg.files:
        try:
            text = read_source(str(f))
            new = format_text(text, str(f))
        except CaicError as e:
            errors.extend(e.diagnostics)
            continue
        if new == text:
            continue
        changed.append(f)
        if cfg.check:
            diff = difflib.unified_diff(
                text.splitlines(True), new.splitlines(True), f"{f} (current)", f"{f} (formatted)"
            )
            diffs.append("".join(diff))
        else:
            write_text_atomic(f, new)
            say(f"formatted {f}")
    return FormatResult(changed=changed, diff="".join(diffs), errors=errors)
