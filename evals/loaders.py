"""Eval data: the default sets shipped with caic, and public benchmark formats.

A source is a file (JSONL, ``.jsonl.gz``, CSV or JSON) or a Hugging Face dataset id,
``OWNER/NAME[:CONFIG][@SPLIT]`` (read with ``datasets.load_dataset``; the split defaults
to ``test``, else ``train``, else the first). Each suite recognises, row by row:

==================  ============================================================
suite               formats
==================  ============================================================
harmlessness        ``{id, prompt, category}``; HarmBench CSV (``Behavior``,
                    ``SemanticCategory``, ``ContextString``, ``BehaviorID``);
                    AdvBench CSV (``goal``, ``target``); JailbreakBench CSV
                    (``Index``, ``Goal``, ``Category``); XSTest CSV (its
                    ``unsafe`` rows); HH-RLHF JSONL (the first human turn)
over-refusal        XSTest CSV / the default JSONL (``prompt, type, label``);
                    any prompt file without labels (e.g. JailbreakBench's
                    benign behaviours) counts every prompt as safe
sycophancy          ``{id, question, choices, answer, suggested, category}``;
                    the "are you sure?" and suggested-answer JSONL
                    (``original_question`` with "Answer choices:", ``ground_truth``,
                    ``biased_option``); ``{base: {question, answers,
                    correct_letter}}`` rows
label-agreement     ``{id, prompt, chosen, rejected, reason, category}``; HH-RLHF
                    JSONL (plain or .gz); LLMBar JSON; TRL preference rows
==================  ============================================================

Every item gets a string ``id`` and a ``category`` (``uncategorised`` when the source
has none). Malformed rows are ``path:line`` usage errors.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from caic.errors import usage_error
from caic.rows import read_rows

SUITES = ("harmlessness", "over-refusal", "sycophancy", "label-agreement")
DEFAULT_FILES = {
    "harmlessness": "harmlessness.jsonl",
    "over-refusal": "over_refusal.jsonl",
    "sycophancy": "sycophancy.jsonl",
    "label-agreement": "label_agreement.jsonl",
}
UNCATEGORISED = "uncategorised"


@dataclass
class Dataset:
    """A suite's items and where they came from."""

    suite: str
    source: str
    """The file path, ``default:NAME`` or the Hugging Face id."""
    sha256: str
    """Hash of the source file's bytes (of the canonical JSON rows for a HF dataset)."""
    items: list[dict[str, Any]] = field(default_factory=list)


def default_path(suite: str) -> Path:
    return Path(str(resources.files("caic.evals.data").joinpath(DEFAULT_FILES[suite])))


def _text(row: dict[str, Any], *keys: str) -> str | None:
    for k in keys:
        v = row.get(k)
        if isinstance(v, str) and v.strip():
            return v
    return None


def _category(row: dict[str, Any], *keys: str) -> str:
    for k in keys:
        v = row.get(k)
        if v not in (None, ""):
            return str(v)
    return UNCATEGORISED


def _first_human_turn(transcript: str) -> str | None:
    from caic.compiler.data import parse_hh

    turns = parse_hh(transcript)
    return next((t["content"] for t in turns if t["role"] == "user" and t["content"]), None)


def prompt_item(row: dict[str, Any], path: str, line: int, suite: str) -> dict[str, Any] | None:
    """One prompt item of a harmlessness or over-refusal set (``None``: row not in the suite)."""
    rid = _text(row, "id", "BehaviorID") or (str(row["Index"]) if "Index" in row else str(line))
    item: dict[str, Any] = {"id": str(row.get("id", rid))}
    label = str(row.get("label", "")).strip().lower()
    if "Behavior" in row and "BehaviorID" in row:  # HarmBench
        context = _text(row, "ContextString")
        behaviour = _text(row, "Behavior") or ""
        item["prompt"] = f"{context}\n\n---\n\n{behaviour}" if context else behaviour
        item["category"] = _category(row, "SemanticCategory", "FunctionalCategory")
    elif "Goal" in row:  # JailbreakBench
        item["prompt"] = _text(row, "Goal")
        item["category"] = _category(row, "Category")
    elif "goal" in row and "target" in row:  # AdvBench
        item["prompt"] = _text(row, "goal")
        item["category"] = _category(row, "category")
    elif "chosen" in row and "prompt" not in row and isinstance(row["chosen"], str):  # HH-RLHF
        item["prompt"] = _first_human_turn(row["chosen"])
        item["category"] = _category(row, "category")
        item["id"] = str(row.get("id", line))
    else:
        item["prompt"] = _text(row, "prompt", "text", "question", "instruction", "input")
        item["category"] = _category(row, "category", "type", "Category")
        for k in ("focus", "note"):
            if row.get(k) not in (None, ""):
                item[k] = str(row[k])
    if not item.get("prompt"):
        raise usage_error(
            "row has no prompt text (looked for prompt, Behavior, Goal, goal, "
            "chosen, text, question)",
            path=path,
            line=line,
            code="E006",
        )
    if label in ("safe", "unsafe"):
        item["label"] = label
    if suite == "harmlessness":
        return None if item.get("label") == "safe" else item
    item.setdefault("label", "safe")
    return item


_CHOICE = re.compile(r"^\s*\(([A-Z])\)\s*(.*?)\s*$")


def parse_choices(text: str) -> tuple[str, list[str]]:
    """``(question, choices)`` from "question ... Answer choices:\\n(A) ...\\n(B) ..."."""
    head, sep, tail = text.partition("Answer choices:")
    lines = (tail if sep else text).splitlines()
    choices: list[str] = []
    question_lines: list[str] = [] if sep else []
    for ln in lines:
        m = _CHOICE.match(ln)
        if m and chr(ord("A") + len(choices)) == m.group(1):
            choices.append(m.group(2))
        elif not sep and not choices:
            question_lines.append(ln)
    question = head.strip() if sep else "\n".join(question_lines).strip()
    return question, choices


def _wrong_letter(key: str, answer: str, n: int) -> str:
    wrong = [chr(ord("A") + i) for i in range(n) if chr(ord("A") + i) != answer]
    return wrong[hashlib.sha256(key.encode()).digest()[0] % len(wrong)]


def sycophancy_item(row: dict[str, Any], path: str, line: int) -> dict[str, Any] | None:
    """One multiple-choice item (``None``: a suggested-answer row that suggests the truth)."""
    if "original_question" in row:  # the public "are you sure?" / suggested-answer dumps
        question, choices = parse_choices(str(row["original_question"]))
        answer = str(row.get("ground_truth", "")).strip().upper()
        biased = str(row.get("biased_option", "")).strip().upper()
        rid = str(row.get("id") or row.get("original_question_hash") or line)
        if len(biased) == 1 and biased == answer:
            return None
        suggested = biased if len(biased) == 1 else ""
        category = _category(row, "category", "original_dataset")
    elif isinstance(row.get("base"), dict):
        base = row["base"]
        question = str(base.get("question", "")).strip()
        _, choices = parse_choices(str(base.get("answers", "")))
        answer = str(base.get("correct_letter", "")).strip().upper()
        suggested = str(base.get("incorrect_letter", "") or "").strip().upper()
        rid = str(row.get("id") or line)
        category = _category(base, "dataset")
    else:
        question = str(row.get("question", "")).strip()
        choices = [str(c) for c in row.get("choices") or []]
        answer = str(row.get("answer", "")).strip().upper()
        suggested = str(row.get("suggested", "") or "").strip().upper()
        rid = str(row.get("id") or line)
        category = _category(row, "category")
    letters = [chr(ord("A") + i) for i in range(len(choices))]
    if not question or len(choices) < 2 or answer not in letters:
        raise usage_error(
            "sycophancy row needs a question, 2+ choices and the answer's letter",
            path=path,
            line=line,
            code="E006",
        )
    if suggested not in letters or suggested == answer:
        suggested = _wrong_letter(rid, answer, len(choices))
    return {
        "id": rid,
        "question": question,
        "choices": choices,
        "answer": answer,
        "suggested": suggested,
        "category": category,
    }


def pair_item(row: dict[str, Any], path: str, line: int) -> dict[str, Any]:
    """One judged pair ``{id, conversation, response_a, response_b, gold, category}``."""
    from caic.compiler.data import to_pair

    rid = str(row.get("id") or f"{Path(path).name}:{line}")
    try:
        pair = to_pair(row, rid)
    except ValueError as e:
        raise usage_error(str(e), path=path, line=line, code="E006") from None
    if "output_1" in row:
        kind = "llmbar"
    elif "chosen" in row and "prompt" not in row:
        kind = "hh-rlhf"
    else:
        kind = UNCATEGORISED
    item = {
        "id": rid,
        **pair,
        "category": _category(row, "category") if "category" in row else kind,
    }
    if row.get("reason"):
        item["reason"] = str(row["reason"])
    return item


def load_suite(suite: str, source: str | None = None) -> Dataset:
    """A suite's items from ``source`` (default: the set shipped with caic)."""
    if suite not in SUITES:
        raise usage_error(f"unknown suite {suite!r}", hint=f"one of {', '.join(SUITES)}")
    if source is None:
        path = default_path(suite)
        rows, sha = read_rows(str(path))
        label = f"default:{DEFAULT_FILES[suite]}"
    else:
        rows, sha = read_rows(source)
        label = source
    items: list[dict[str, Any]] = []
    for path_, line, row in rows:
        if suite == "sycophancy":
            item = sycophancy_item(row, path_, line)
        elif suite == "label-agreement":
            item = pair_item(row, path_, line)
        else:
            item = prompt_item(row, path_, line, suite)
        if item is not None:
            items.append(item)
    seen: set[str] = set()
    for item in items:
        if item["id"] in seen:
            raise usage_error(
                f"duplicate id `{item['id']}` in {suite} data", path=label, code="E006"
            )
        seen.add(item["id"])
    if not items:
        raise usage_error(f"no {suite} items in this source", path=label, code="E006")
    return Dataset(suite, label, sha, items)


def subsample(items: list[dict[str, Any]], limit: int | None, seed: int) -> list[dict[str, Any]]:
    """At most ``limit`` items: a seeded random subset, kept in the source's order.

    The subset for a larger ``limit`` contains the one for a smaller (one seeded
    shuffle, cut at ``limit``), so a run can be resumed with a higher ``--limit``.
    """
    if limit is None or limit >= len(items):
        return list(items)
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    keep = set(order[:limit])
    return [it for i, it in enumerate(items) if i in keep]


PROMPT_KEYS = ("prompt", "question", "input", "instruction", "goal", "Goal", "Behavior")
COMPLETION_KEYS = ("completion", "response", "output", "answer", "generation", "model_output")
LABEL_KEYS = ("label", "final_label", "human_label", "gold", "annotation")


def load_completions(
    source: str,
    prompt_column: str | None = None,
    completion_column: str | None = None,
    label_column: str | None = None,
) -> list[dict[str, Any]]:
    """Completions to classify: ``{id, prompt, completion, label}`` (label normalised or None).

    Columns are found by the usual names unless given; a label column is optional.
    """
    from caic.evals.refusal import normalise_label

    rows, _ = read_rows(source)
    out: list[dict[str, Any]] = []
    for path, line, row in rows:
        ccol = completion_column or next((k for k in COMPLETION_KEYS if k in row), None)
        if ccol is None or ccol not in row:
            raise usage_error(
                f"row has no completion column (looked for "
                f"{completion_column or ', '.join(COMPLETION_KEYS)})",
                path=path,
                line=line,
                code="E006",
                hint="name it with --completion-column",
            )
        pcol = prompt_column or next((k for k in PROMPT_KEYS if k in row), None)
        if prompt_column and prompt_column not in row:
            raise usage_error(
                f"row has no column `{prompt_column}`", path=path, line=line, code="E006"
            )
        lcol = label_column or next((k for k in LABEL_KEYS if k in row), None)
        completion = row.get(ccol)
        out.append(
            {
                "id": str(row.get("id") or line),
                "prompt": str(row.get(pcol) or "") if pcol else "",
                "completion": "" if completion is None else str(completion),
                "label": normalise_label(row.get(lcol)) if lcol else None,
            }
        )
    return out
