"""Prompt sets and response pairs from any source :mod:`caic.rows` reads (JSONL, JSON,
CSV, Parquet, a saved dataset folder, a Hugging Face id), normalised; a row without what
is needed is reported as ``path:line``."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from caic.errors import usage_error
from caic.rows import iter_rows

PROMPT_COLUMNS = (
    "prompt",
    "text",
    "question",
    "instruction",
    "input",
    "goal",
    "behavior",
    "Goal",
    "Behavior",
    "Prompt",
)
Message = dict[str, str]


def load_prompts(source: str, column: str | None = None) -> list[dict[str, Any]]:
    """Prompt rows ``{id, prompt, category}``; ``column`` names the text column."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for path, line, row in iter_rows(source, split="train"):
        col = column or next((c for c in PROMPT_COLUMNS if c in row), None)
        if col is None or col not in row:
            raise usage_error(
                f"row has no prompt column (looked for {column or ', '.join(PROMPT_COLUMNS[:5])})",
                path=path,
                line=line,
                code="E006",
                hint="name it with --prompt-column",
            )
        text = row[col]
        if isinstance(text, list):  # a chat: take the last user turn
            users = [
                m.get("content", "")
                for m in text
                if isinstance(m, dict) and m.get("role") == "user"
            ]
            text = users[-1] if users else None
        if not isinstance(text, str) or not text.strip():
            raise usage_error(
                f"empty or non-text prompt in column `{col}`", path=path, line=line, code="E006"
            )
        pid = str(row.get("id") or row.get("BehaviorID") or row.get("Index") or f"{line}")
        if pid in seen:
            raise usage_error(f"duplicate prompt id `{pid}`", path=path, line=line, code="E006")
        seen.add(pid)
        category = row.get("category") or row.get("SemanticCategory") or row.get("Category")
        out.append({"id": pid, "prompt": text, "category": category or None})
    return out


_HH_TURN = re.compile(r"\n\n(Human|Assistant): ")


def parse_hh(transcript: str) -> list[Message]:
    """An HH-RLHF transcript (``\\n\\nHuman: ...\\n\\nAssistant: ...``) as chat turns."""
    text = transcript if transcript.startswith("\n\n") else "\n\n" + transcript
    pieces = _HH_TURN.split(text)
    turns: list[Message] = []
    for role, content in zip(pieces[1::2], pieces[2::2], strict=False):
        turns.append(
            {"role": "user" if role == "Human" else "assistant", "content": content.strip()}
        )
    return turns


def _as_messages(value: Any) -> list[Message] | None:
    if isinstance(value, list) and all(isinstance(m, dict) and "role" in m for m in value):
        return [{"role": str(m["role"]), "content": str(m.get("content", ""))} for m in value]
    return None


def _last_assistant(value: Any) -> str | None:
    msgs = _as_messages(value)
    if msgs is not None:
        return msgs[-1]["content"] if msgs and msgs[-1]["role"] == "assistant" else None
    return value if isinstance(value, str) else None


def _coin(key: str) -> bool:
    """A deterministic fair coin from a row id: which slot the human-preferred response takes."""
    return hashlib.sha256(key.encode("utf-8")).digest()[0] & 1 == 1


def load_pairs(source: str) -> list[dict[str, Any]]:
    """Pairs ``{id, conversation, response_a, response_b, gold}`` from any supported shape.

    Shapes: ``rlaif pairs`` output (``prompt``, ``response_a``, ``response_b``); TRL
    preference rows (``prompt``, ``chosen``, ``rejected``; standard or conversational);
    HH-RLHF transcripts (``chosen``, ``rejected``); LLMBar (``input``, ``output_1``,
    ``output_2``, ``label``). ``gold`` is ``"a"``/``"b"`` where a human preference is known.
    When chosen/rejected are given, a seeded coin per row decides which slot the chosen
    response takes, so gold labels are not all in slot A.
    """
    out: list[dict[str, Any]] = []
    for path, line, row in iter_rows(source, split="train"):
        rid = str(row.get("id") or f"{Path(path).name}:{line}")
        try:
            pair = to_pair(row, rid)
        except ValueError as e:
            raise usage_error(str(e), path=path, line=line, code="E006") from None
        pair["id"] = rid
        out.append(pair)
    return out


def to_pair(row: dict[str, Any], rid: str) -> dict[str, Any]:
    if "response_a" in row and "response_b" in row:
        conv = _as_messages(row.get("prompt")) or [
            {"role": "user", "content": str(row.get("prompt", ""))}
        ]
        gold = row.get("gold")
        return {
            "conversation": conv,
            "response_a": str(row["response_a"]),
            "response_b": str(row["response_b"]),
            "gold": gold if gold in ("a", "b") else None,
        }
    if "output_1" in row and "output_2" in row:
        label = row.get("label")
        gold = {1: "a", 2: "b", "1": "a", "2": "b"}.get(label)  # type: ignore[call-overload]
        return {
            "conversation": [{"role": "user", "content": str(row.get("input", ""))}],
            "response_a": str(row["output_1"]),
            "response_b": str(row["output_2"]),
            "gold": gold,
        }
    if "chosen" in row and "rejected" in row:
        chosen, rejected = row["chosen"], row["rejected"]
        if "prompt" in row:
            conv = _as_messages(row["prompt"]) or [{"role": "user", "content": str(row["prompt"])}]
            c_text, r_text = _last_assistant(chosen), _last_assistant(rejected)
            if _as_messages(chosen) and not row["prompt"]:
                conv = _as_messages(chosen)[:-1]  # type: ignore[index]
        else:
            if isinstance(chosen, str) and "Human:" in chosen:
                c_turns, r_turns = parse_hh(chosen), parse_hh(rejected)
            else:
                c_turns = _as_messages(chosen) or []
                r_turns = _as_messages(rejected) or []
            if not c_turns or not r_turns or c_turns[-1]["role"] != "assistant":
                raise ValueError(
                    "`chosen`/`rejected` must be transcripts ending with an "
                    "assistant turn, or give a `prompt` column"
                )
            conv = c_turns[:-1]
            c_text, r_text = c_turns[-1]["content"], r_turns[-1]["content"]
        if c_text is None or r_text is None:
            raise ValueError("cannot find the assistant response in `chosen`/`rejected`")
        if _coin(rid):
            return {"conversation": conv, "response_a": r_text, "response_b": c_text, "gold": "b"}
        return {"conversation": conv, "response_a": c_text, "response_b": r_text, "gold": "a"}
    raise ValueError(
        "unrecognised pair row: need response_a/response_b, chosen/rejected, or output_1/output_2"
    )
