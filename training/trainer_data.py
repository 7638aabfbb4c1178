"""Training data for the trainers: SFT rows, preference rows, RL prompts.

Inputs are checked before any model loads: a row without the columns a trainer needs is one
line naming the file (and line) and the missing column. Every file read is hashed, so the
model card can name exactly the data a model was trained on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict

from caic.errors import usage_error
from caic.io import sha256_file
from caic.rows import iter_rows as _iter_rows
from caic.training.config import shipped_path

Row = dict[str, Any]


class DataFile(BaseModel):
    """One input a run read, as the model card and ``run.json`` record it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: str
    """What it was used for: ``train``, ``prompts`` or ``reward_model``."""
    path: str
    """The path or Hugging Face id as given."""
    sha256: str | None
    """sha256 of the file's bytes (``None`` for a Hugging Face id or a folder)."""
    rows: int = 0
    """Rows used for training."""
    skipped: dict[str, int] = {}
    """Rows left out, by reason (abstained, low confidence ...)."""
    constitution_sha256: list[str] = []
    """Distinct ``constitution_sha256`` values the rows carry."""


def file_hash(source: str) -> str | None:
    p = shipped_path(source)
    return sha256_file(p) if p.is_file() else None


def iter_rows(source: str, split: str = "train") -> Iterator[tuple[str, int, Row]]:
    """``(path, line, row)`` of a shipped data name or any source :mod:`caic.rows` reads."""
    p = shipped_path(source)
    yield from _iter_rows(str(p) if p.exists() else source, split)


def _shas(rows: list[Row]) -> list[str]:
    return sorted({str(r["constitution_sha256"]) for r in rows if r.get("constitution_sha256")})


def _train_file(source: str, out: list[Row], meta: list[Row], **extra: Any) -> DataFile:
    """The training data file as an input of the run: its hash, rows kept, constitutions."""
    return DataFile(
        role="train",
        path=source,
        sha256=file_hash(source),
        rows=len(out),
        constitution_sha256=_shas(meta),
        **extra,
    )


def _is_messages(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(m, dict)
            and isinstance(m.get("role"), str)
            and isinstance(m.get("content"), str)
            for m in value
        )
    )


def sft_rows(source: str, split: str = "train") -> tuple[list[Row], DataFile]:
    """Rows for SFTTrainer: ``messages``, ``prompt``+``completion``, or ``text`` (TRL formats).

    Only the training columns are kept (SL-CAI exports carry trace metadata too).
    """
    out: list[Row] = []
    meta: list[Row] = []
    shape: str | None = None
    for path, line, row in iter_rows(source, split):
        if "messages" in row:
            msgs = row["messages"]
            if not _is_messages(msgs):
                raise usage_error(
                    "`messages` must be a list of {role, content} objects",
                    path=path,
                    line=line,
                    code="E006",
                )
            if not any(m["role"] == "assistant" for m in msgs):
                raise usage_error(
                    "conversation has no assistant turn to learn", path=path, line=line, code="E006"
                )
            kept: Row = {"messages": [{"role": m["role"], "content": m["content"]} for m in msgs]}
            kind = "messages"
        elif "prompt" in row and "completion" in row:
            kept, kind = (
                {"prompt": row["prompt"], "completion": row["completion"]},
                "prompt-completion",
            )
        elif "text" in row:
            kept, kind = {"text": row["text"]}, "text"
        else:
            raise usage_error(
                f"row has none of the SFT columns `messages`, `prompt`+`completion`, `text` "
                f"(found: {', '.join(sorted(row)) or 'nothing'})",
                path=path,
                line=line,
                code="E006",
            )
        if shape is not None and kind != shape:
            raise usage_error(
                f"row is {kind} but earlier rows are {shape}", path=path, line=line, code="E006"
            )
        shape = kind
        out.append(kept)
        meta.append(row)
    if not out:
        raise usage_error("no training rows", path=source, code="E006")
    return out, _train_file(source, out, meta)


def preference_rows(
    source: str,
    *,
    trainer: str,
    need_p: bool,
    orient: bool,
    skip_abstained: bool = True,
    min_confidence: float = 0.0,
    split: str = "train",
) -> tuple[list[Row], DataFile]:
    """TRL preference rows (``prompt`` optional, ``chosen``, ``rejected``; ``p_chosen`` if needed).

    ``orient`` swaps a pair whose ``p_chosen`` is below 0.5, so ``chosen`` is the preferred
    response for hard-label trainers. Abstentions and pairs closer to 0.5 than
    ``min_confidence`` are skipped and counted.
    """
    required = ["chosen", "rejected"] + (["p_chosen"] if need_p else [])
    out: list[Row] = []
    meta: list[Row] = []
    skipped: Counter[str] = Counter()
    for path, line, row in iter_rows(source, split):
        if skip_abstained and row.get("abstained"):
            skipped["abstained"] += 1
            continue
        missing = [c for c in required if row.get(c) is None]
        if missing:
            found = ", ".join(sorted(row)) or "nothing"
            raise usage_error(
                f"missing column `{missing[0]}` needed by {trainer} (found: {found})",
                path=path,
                line=line,
                code="E006",
                hint="train on `caic rlaif label` output" if "p_chosen" in missing else None,
            )
        kept: Row = {"chosen": row["chosen"], "rejected": row["rejected"]}
        if "prompt" in row:
            kept["prompt"] = row["prompt"]
        p = row.get("p_chosen")
        if p is not None:
            if not isinstance(p, int | float) or not 0.0 <= float(p) <= 1.0:
                raise usage_error(
                    f"`p_chosen` must be a number in [0, 1], got {p!r}",
                    path=path,
                    line=line,
                    code="E006",
                )
            p = float(p)
            if abs(p - 0.5) < min_confidence:
                skipped["low_confidence"] += 1
                continue
            if orient and p < 0.5:
                kept["chosen"], kept["rejected"], p = kept["rejected"], kept["chosen"], 1.0 - p
            kept["p_chosen"] = p
        out.append(kept)
        meta.append(row)
    if not out:
        raise usage_error(
            f"no usable preference rows ({dict(skipped) or 'file is empty'})",
            path=source,
            code="E006",
        )
    if len({"prompt" in r for r in out}) > 1:
        raise usage_error(
            "some rows have a `prompt` column and others do not", path=source, code="E006"
        )
    if need_p is False:
        for r in out:
            r.pop("p_chosen", None)
    return out, _train_file(source, out, meta, skipped=dict(skipped))


def prompt_rows(
    source: str, column: str | None = None, limit: int | None = None
) -> tuple[list[Row], DataFile]:
    """RL prompts as conversational rows ``{"prompt": [{"role": "user", "content": ...}]}``."""
    from caic.compiler.data import load_prompts

    found = shipped_path(source)
    prompts = load_prompts(str(found) if found.exists() else source, column)
    if limit is not None:
        prompts = prompts[:limit]
    if not prompts:
        raise usage_error("no prompts", path=source, code="E006")
    rows = [{"prompt": [{"role": "user", "content": p["prompt"]}]} for p in prompts]
    return rows, DataFile(role="prompts", path=source, sha256=file_hash(source), rows=len(rows))


def to_dataset(rows: list[Row]) -> Any:
    """A ``datasets.Dataset`` from plain rows."""
    import datasets

    return datasets.Dataset.from_list(rows)
