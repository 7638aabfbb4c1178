"""Compile a Constitution into a PromptSet directory (DESIGN §5).

Compilation is a short tuple of pure passes, each ``Constitution → records``;
:func:`write_promptset` serialises them with canonical JSON and writes the
directory atomically. Same inputs and seed → byte-identical files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import caic
from caic.compiler import prompts
from caic.compiler.artefacts import SCHEMA_VERSION, PromptSetManifest, check_records
from caic.compiler.sampling import priority_ranks, probabilities
from caic.constitution_lang import sha256
from caic.constitution_lang.model import Constitution
from caic.io import atomic_dir, dumps_json, sha256_bytes

Records = list[dict[str, Any]]


def principle_records(c: Constitution) -> Records:
    p_crit = probabilities(c, "critique")
    p_judge = probabilities(c, "judge")
    ranks = priority_ranks(c)
    out = []
    for cat in c.categories:
        for p in cat.principles:
            out.append(
                {
                    "id": p.name,
                    "category": cat.name,
                    "kind": cat.kind,
                    "weight": p.weight,
                    "category_weight": cat.weight,
                    "probability": {
                        "critique": p_crit.get(p.name, 0.0),
                        "judge": p_judge.get(p.name, 0.0),
                    },
                    "priority_rank": ranks.get(cat.name, 0),
                    "judge": p.judge,
                    "critique": p.critique,
                    "revision": p.revision,
                    "tags": list(p.tags),
                    "source": p.source,
                    "span": {
                        "path": Path(p.span.path).name,
                        "line": p.span.line,
                        "column": p.span.column,
                    },
                }
            )
    return out


def critique_records(c: Constitution) -> Records:
    shots = prompts.few_shot_messages(c)
    out = []
    for p in c.principles:
        if not (p.critique and p.revision):
            continue
        parts = prompts.critique_parts(c, p)
        out.append(
            {
                "id": f"{p.name}/critique",
                "principle": p.name,
                "few_shot": shots,
                "messages": [{"role": "user", "parts": parts}],
            }
        )
    return out


def revision_records(c: Constitution) -> Records:
    return [
        {
            "id": f"{p.name}/revision",
            "principle": p.name,
            "messages": [{"role": "user", "parts": prompts.revision_parts(c, p)}],
        }
        for p in c.principles
        if p.critique and p.revision
    ]


def judge_records(c: Constitution) -> Records:
    """principle × order × mode: direct and CoT in both orders, plus pointwise."""
    out = []
    for p in c.principles:
        if not p.judge:
            continue
        for mode, cot in (("direct", False), ("cot", True)):
            parts = prompts.judge_parts(c, p, cot)
            for order, mapping in (
                ("forward", {"A": "response_a", "B": "response_b"}),
                ("swapped", {"A": "response_b", "B": "response_a"}),
            ):
                out.append(
                    {
                        "id": f"{p.name}/{mode}/{order}",
                        "principle": p.name,
                        "mode": mode,
                        "order": order,
                        "options": ["A", "B"],
                        "mapping": mapping,
                        "assistant_prefix": "The better response is (",
                        "messages": [{"role": "user", "parts": parts}],
                    }
                )
        out.append(
            {
                "id": f"{p.name}/pointwise",
                "principle": p.name,
                "mode": "pointwise",
                "order": "none",
                "options": ["Yes", "No"],
                "mapping": {},
                "assistant_prefix": "",
                "messages": [{"role": "user", "parts": prompts.pointwise_parts(c, p)}],
            }
        )
    return out


PASSES: tuple[tuple[str, Callable[[Constitution], Records]], ...] = (
    ("principles.jsonl", principle_records),
    ("critique.jsonl", critique_records),
    ("revision.jsonl", revision_records),
    ("judge.jsonl", judge_records),
)


def jsonl_bytes(records: Iterable[dict[str, Any]]) -> bytes:
    return "".join(dumps_json(r) + "\n" for r in records).encode("utf-8")


def compile_constitution(c: Constitution) -> dict[str, Records]:
    """Run every pass; ``{file name: records}``."""
    return {name: fn(c) for name, fn in PASSES}


def manifest(
    c: Constitution,
    files: dict[str, bytes],
    counts: dict[str, int],
    seed: int,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "promptset",
        "constitution": {"name": c.name, "version": c.version, "sha256": sha256(c)},
        "language_version": c.language_version,
        "caic_version": caic.__version__,
        "seed": seed,
        "settings": c.settings.model_dump(mode="json"),
        "files": {
            name: {"sha256": sha256_bytes(data), "records": counts[name]}
            for name, data in sorted(files.items())
        },
        "counts": {
            "principles": len(c.principles),
            "critique": counts.get("critique.jsonl", 0),
            "judge": counts.get("judge.jsonl", 0),
            **(extra or {}),
        },
    }


def write_promptset(
    c: Constitution,
    out_dir: str | Path,
    seed: int | None = None,
    jobs: dict[str, Records] | None = None,
    job_bytes: dict[str, bytes] | None = None,
) -> dict[str, Any]:
    """Write the PromptSet (and any bound job files) to ``out_dir`` atomically."""
    seed = c.settings.seed if seed is None else seed
    records = compile_constitution(c)
    if jobs:
        records.update(jobs)
    files = {name: jsonl_bytes(recs) for name, recs in records.items()}
    counts = {name: len(recs) for name, recs in records.items()}
    for name, data in (job_bytes or {}).items():
        files[name] = data
        counts[name] = data.count(b"\n")
    for name, recs in records.items():
        check_records(name, recs)
    man = manifest(c, files, counts, seed)
    PromptSetManifest.model_validate(man)
    with atomic_dir(out_dir) as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        (tmp / "manifest.json").write_text(
            __import__("json").dumps(man, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
    return man
