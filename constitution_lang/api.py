"""The public API, in the shape of the json module: ``load``, ``loads``, ``dump``, ``dumps``.

Each stage is reachable on its own too: :func:`parse` (text → Document),
:func:`resolve` (Document → Constitution), :func:`format_text` (text → canonical text).
"""

from __future__ import annotations

import functools
import hashlib
import os
from typing import IO

from caic.constitution_lang.fmt import format_document, to_document
from caic.constitution_lang.model import Constitution, Document
from caic.constitution_lang.parser import parse, parse_collect, read_source
from caic.constitution_lang.resolve import resolve


def _file_loader(path: str) -> tuple[Document, str]:
    text = read_source(path)
    doc, _ = parse(text, path)
    return doc, text


def loads(text: str, path: str | None = None) -> Constitution:
    """Parse, resolve and check `.cai` text. ``path`` anchors ``extends`` and diagnostics."""
    doc, _, problems = parse_collect(text, path or "<string>")
    return resolve(doc, path, _file_loader, problems)


def load(fp: str | os.PathLike[str] | IO[str]) -> Constitution:
    """Load a constitution from a path or an open text file."""
    if isinstance(fp, str | os.PathLike):
        path = os.fspath(fp)
        return loads(read_source(path), path)
    name = getattr(fp, "name", None)
    return loads(fp.read(), name if isinstance(name, str) else None)


def dumps(constitution: Constitution) -> str:
    """Canonical `.cai` text of a resolved constitution (parents flattened in)."""
    return format_document(to_document(constitution))


def dump(constitution: Constitution, fp: IO[str]) -> None:
    fp.write(dumps(constitution))


def format_text(text: str, path: str = "<string>") -> str:
    """Canonical form of one file's text, comments kept, ``extends`` kept."""
    doc, comments = parse(text, path)
    return format_document(doc, comments)


@functools.lru_cache(maxsize=64)
def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256(constitution: Constitution) -> str:
    """Content hash: sha256 of the canonical text, blind to formatting and comments."""
    return _sha(dumps(constitution))
