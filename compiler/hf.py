"""``caic compile --format hf``: the PromptSet as a ``datasets.DatasetDict``.

Arrow needs one type per column, so nested values whose shape varies between
rows (message parts, few-shot turns, mappings) are stored as JSON strings; the
columns that end in ``_json`` say so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from caic.compiler.promptset import compile_constitution, jsonl_bytes, manifest
from caic.constitution_lang.model import Constitution
from caic.errors import usage_error
from caic.io import atomic_dir


def _flatten(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict | list) and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            out[f"{key}_json"] = json.dumps(value, ensure_ascii=False, sort_keys=True)
        else:
            out[key] = value
    return out


def write_hf(
    c: Constitution,
    out_dir: str | Path,
    seed: int,
    jobs: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    try:
        import datasets
    except ImportError:
        raise usage_error(
            "--format hf needs the `datasets` package", hint="pip install 'caic[ml]'"
        ) from None
    records = compile_constitution(c)
    records.update(jobs or {})
    splits = {}
    for name, recs in records.items():
        split = name.removesuffix(".jsonl")
        if recs:
            splits[split] = datasets.Dataset.from_list([_flatten(r) for r in recs])
    files = {name: jsonl_bytes(recs) for name, recs in records.items()}
    man = manifest(c, files, {n: len(r) for n, r in records.items()}, seed, extra={"format": "hf"})
    with atomic_dir(out_dir) as tmp:
        datasets.DatasetDict(splits).save_to_disk(str(tmp / "dataset"))
        (tmp / "manifest.json").write_text(
            json.dumps(man, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
    return man
