"""``caic import``: published JSON critique/revision pairs → `.cai` text.

Two shapes are in circulation: a mapping of keys to
``{"prompt": [critique request], "edit_request": revision request}``, and a list of
``{"critic": ..., "revision": ...}`` objects.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from caic.constitution_lang.fmt import format_document
from caic.constitution_lang.model import DocCategory, Document, Principle
from caic.errors import usage_error


def _slug(key: str, i: int) -> str:
    s = re.sub(r"[^a-z0-9_-]+", "-", key.lower()).strip("-_")
    if not s or not s[0].isalpha():
        s = f"p{i:02d}-{s}" if s else f"p{i:02d}"
    return s


def _text(value: Any, where: str, path: str) -> str:
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    if not isinstance(value, str) or not value.strip():
        raise usage_error(f"{where}: expected a non-empty string", path=path, code="E006")
    return value.strip()


def import_pairs(file: Path, name: str | None = None) -> str:
    path = str(file)
    try:
        data = json.loads(Path(file).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise usage_error("no such file", path=path, code="E004") from None
    except json.JSONDecodeError as e:
        raise usage_error(
            f"malformed JSON: {e.msg}", path=path, line=e.lineno, column=e.colno, code="E005"
        ) from None
    principles: list[Principle] = []
    seen: set[str] = set()
    if isinstance(data, dict):
        for i, (key, item) in enumerate(data.items(), 1):
            if not isinstance(item, dict) or "prompt" not in item or "edit_request" not in item:
                raise usage_error(
                    f'entry `{key}`: expected {{"prompt": [...], "edit_request": ...}}',
                    path=path,
                    code="E006",
                )
            principles.append(
                Principle(
                    name=_unique(_slug(key, i), seen),
                    category="imported",
                    critique=_text(item["prompt"], f"entry `{key}` prompt", path),
                    revision=_text(item["edit_request"], f"entry `{key}` edit_request", path),
                    source=f"imported from {file.name}, key {key}",
                )
            )
    elif isinstance(data, list):
        for i, item in enumerate(data, 1):
            if not isinstance(item, dict) or "critic" not in item or "revision" not in item:
                raise usage_error(
                    f'item {i}: expected {{"critic": ..., "revision": ...}}', path=path, code="E006"
                )
            principles.append(
                Principle(
                    name=_unique(f"p{i:02d}", seen),
                    category="imported",
                    critique=_text(item["critic"], f"item {i} critic", path),
                    revision=_text(item["revision"], f"item {i} revision", path),
                    source=f"imported from {file.name}, item {i}",
                )
            )
    else:
        raise usage_error("expected a JSON object or list", path=path, code="E006")
    if not principles:
        raise usage_error("no critique/revision pairs found", path=path, code="E006")
    doc = Document(
        language_version=1,
        name=name or _slug(file.stem, 0),
        version="1.0.0",
        categories=(DocCategory(name="imported", kind="harm", principles=tuple(principles)),),
    )
    return format_document(doc)


def _unique(name: str, seen: set[str]) -> str:
    base, n = name, 2
    while name in seen:
        name = f"{base}-{n}"
        n += 1
    seen.add(name)
    return name
