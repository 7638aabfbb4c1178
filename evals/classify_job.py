"""``caic refusal classify`` as a library call: :func:`classify` labels a file of
completions with the three-way refusal classifier (or a model judge), taking one config.

``caic refusal classify`` builds :class:`ClassifyConfig` from its options and calls
:func:`classify`; Python callers do the same::

    from caic.evals.classify_job import ClassifyConfig, classify
    result = classify(ClassifyConfig(file="completions.csv", out="labels.jsonl"))
    result.counts, result.agreement

The output is appended batch by batch through :class:`~caic.resumable.ResumableJsonl`
keyed by ``id``: rerunning resumes, and a run with another source file, judge, columns or
classifier against the same output is refused.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from caic.config import Config
from caic.progress import Say, quiet


class ClassifyConfig(Config):
    """``caic refusal classify``: one refusal class per completion."""

    file: str
    """Completions: CSV, JSONL or a HF dataset id."""
    out: Path
    """Output JSONL."""
    prompt_column: str | None = None
    """Column holding the prompt (default: found by its usual names)."""
    completion_column: str | None = None
    """Column holding the completion (default: found by its usual names)."""
    label_column: str | None = None
    """Human labels to score against (auto: label, final_label)."""
    judge: str | None = None
    """A model judge (backend spec) for refusal classes and harm."""
    batch_size: int = Field(16, ge=1)
    """Completions per batch (classified, judged and appended together)."""
    explain: bool = False
    """Print each row's class probabilities and the rules' clause tags (stderr)."""


class ClassifyResult(BaseModel):
    """What :func:`classify` wrote (counting rows from an earlier, resumed run)."""

    out: Path
    total: int
    """Rows in ``out``."""
    counts: dict[str, int]
    """Rows per refusal class, in the order of :data:`~caic.evals.refusal.LABELS`."""
    labelled: int
    """Rows with a human label."""
    agreement: float | None
    """Share of the labelled rows whose class is their label (None: no labels)."""


def classify(cfg: ClassifyConfig, *, say: Say = quiet) -> ClassifyResult:
    """Write ``{id, prompt, completion, refusal_class, refusal_probs, refusal_class_pattern
    [, refusal_class_judge][, label, agrees]}`` per completion to ``cfg.out`` (JSONL),
    resuming a run with the same inputs. With ``cfg.explain``, ``say`` gets each row's
    probabilities and the clauses the rules tagged."""
    from caic.evals.instrument import instrument_id
    from caic.evals.loaders import load_completions
    from caic.evals.refusal import LABELS, analyse
    from caic.evals.refusal_model import card, classify_many, probs_dict
    from caic.resumable import ResumableJsonl
    from caic.rows import read_rows

    rows = load_completions(cfg.file, cfg.prompt_column, cfg.completion_column, cfg.label_column)
    _, sha = read_rows(cfg.file)
    fingerprint = {
        "source_sha256": sha,
        "judge": cfg.judge,
        "columns": [cfg.prompt_column, cfg.completion_column, cfg.label_column],
        "classifier": instrument_id(card()),
    }
    judge_backend = None
    with ResumableJsonl(cfg.out, fingerprint, key="id") as log:
        todo = [r for r in rows if r["id"] not in log.done]
        for k in range(0, len(todo), cfg.batch_size):
            chunk = todo[k : k + cfg.batch_size]
            judged: list[str | None] = [None] * len(chunk)
            if cfg.judge:
                from caic.backends.registry import get_backend
                from caic.evals.judge import judge_refusal

                judge_backend = judge_backend or get_backend(cfg.judge)
                judged = list(
                    judge_refusal(
                        judge_backend,
                        [r["prompt"] for r in chunk],
                        [r["completion"] for r in chunk],
                        cfg.batch_size,
                    )
                )
            got = classify_many([r["completion"] for r in chunk], [r["prompt"] for r in chunk])
            recs = []
            for i, (r, j) in enumerate(zip(chunk, judged, strict=True)):
                rec: dict[str, Any] = {
                    "id": r["id"],
                    "prompt": r["prompt"],
                    "completion": r["completion"],
                    "refusal_class": j or got.classes[i],
                }
                if got.probs is not None:
                    rec["refusal_probs"] = probs_dict(got.probs[i])
                rec["refusal_class_pattern"] = got.rules[i]
                if j:
                    rec["refusal_class_judge"] = j
                if r["label"]:
                    rec["label"] = r["label"]
                    rec["agrees"] = rec["refusal_class"] == r["label"]
                if cfg.explain:
                    say(explained(rec, analyse(r["completion"], r["prompt"])))
                recs.append(rec)
            log.append(recs)
        written = log.rows()
    if judge_backend is not None:
        judge_backend.close()
    counts = Counter(r["refusal_class"] for r in written)
    labelled = [r for r in written if r.get("label")]
    return ClassifyResult(
        out=cfg.out,
        total=len(written),
        counts={lab: counts[lab] for lab in LABELS},
        labelled=len(labelled),
        agreement=sum(r["agrees"] for r in labelled) / len(labelled) if labelled else None,
    )


def explained(rec: dict[str, Any], clauses: list[Any]) -> str:
    """One row for ``--explain``: id, class, probabilities, then the rules' clauses."""
    probs = rec.get("refusal_probs")
    how = (
        ", ".join(f"{k} {v:.3f}" for k, v in probs.items())
        if probs
        else "no model installed: the rules decide (no probabilities)"
    )
    lines = [f"{rec['id']}: {rec['refusal_class']}  ({how})"]
    lines.append(f"  rules: {rec['refusal_class_pattern']}")
    for c in clauses:
        text = c.text if len(c.text) <= 100 else c.text[:99] + "…"
        lines.append(f"    [{c.tag}] {text}")
    return "\n".join(lines)
