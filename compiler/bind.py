"""Binding a compiled constitution to data: SL-CAI jobs and judge jobs (DESIGN §5).

``sl_cai_jobs.jsonl``: one row per prompt with its K seeded principle draws.
``judge_jobs.jsonl``: one row per pair × drawn principle × order.
"""

from __future__ import annotations

import json
from typing import Any

from caic.compiler.sampling import draw
from caic.constitution_lang import sha256
from caic.constitution_lang.model import Constitution


def sl_cai_jobs(
    c: Constitution,
    prompts: list[dict[str, Any]],
    rounds: int | None = None,
    seed: int | None = None,
) -> list[dict[str, Any]]:
    k = rounds if rounds is not None else c.settings.critique_rounds
    seed = c.settings.seed if seed is None else seed
    draws = draw(c, "critique", len(prompts), k, seed)
    sha = sha256(c)
    return [
        {
            "job_id": f"{p['id']}",
            "prompt_id": p["id"],
            "prompt": p["prompt"],
            "category": p.get("category"),
            "principles": d,
            "seed": seed,
            "constitution_sha256": sha,
        }
        for p, d in zip(prompts, draws, strict=True)
    ]


def sl_cai_jobs_bytes(
    c: Constitution,
    prompts: list[dict[str, Any]],
    rounds: int | None = None,
    seed: int | None = None,
) -> bytes:
    """The job file's bytes; the hot path of binding, kept to one serialisation per row."""
    dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
    return "".join([dumps(r) + "\n" for r in sl_cai_jobs(c, prompts, rounds, seed)]).encode()


def judge_jobs(
    c: Constitution, pairs: list[dict[str, Any]], per_pair: int = 1, seed: int | None = None
) -> list[dict[str, Any]]:
    seed = c.settings.seed if seed is None else seed
    draws = draw(c, "judge", len(pairs), per_pair, seed)
    orders = ("forward", "swapped") if c.settings.judge.swap_positions else ("forward",)
    sha = sha256(c)
    out = []
    for pair, names in zip(pairs, draws, strict=True):
        for i, name in enumerate(names):
            for order in orders:
                out.append(
                    {
                        "job_id": f"{pair['id']}/{i}/{order}",
                        "pair_id": pair["id"],
                        "principle": name,
                        "order": order,
                        "conversation": pair["conversation"],
                        "response_a": pair["response_a"],
                        "response_b": pair["response_b"],
                        "gold": pair.get("gold"),
                        "seed": seed,
                        "constitution_sha256": sha,
                    }
                )
    return out
