"""Inline suppression: ``# caic: ignore[CODE, name]`` comments.

Where a comment applies (one rule, documented in ``caic explain`` and the README):

* on any line of a ``principle { ... }`` block, from its header line to its closing
  brace: it silences findings that involve that principle (for a pair finding, a comment
  in either principle's block is enough);
* on the line a finding points at: the ``constitution`` header for whole-constitution
  findings (missing helpfulness, uncovered hazards, ...), a ``category`` header for
  category findings.

``# caic: ignore`` without brackets silences every rule there. Codes and rule names may
be mixed, separated by commas or spaces; matching ignores case.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path

from caic.constitution_lang.model import Constitution
from caic.errors import Diagnostic

_IGNORE = re.compile(r"#\s*caic:\s*ignore(?:\[([^\]]*)\])?", re.IGNORECASE)
ALL = "*"


def comment_ignores(text: str) -> dict[int, set[str]]:
    """line number → the codes/names (lower-cased; ``*`` for all) ignored on that line."""
    out: dict[int, set[str]] = {}
    for no, line in enumerate(text.splitlines(), start=1):
        if "caic" not in line:
            continue
        for m in _IGNORE.finditer(line):
            if _in_string(line, m.start()):
                continue
            keys = {k.strip().lower() for k in re.split(r"[,\s]+", m.group(1) or "") if k.strip()}
            out.setdefault(no, set()).update(keys or {ALL})
    return out


def _in_string(line: str, pos: int) -> bool:
    """Whether ``pos`` sits inside a ``"..."`` string on this line (escapes honoured)."""
    inside = False
    i = 0
    while i < pos:
        ch = line[i]
        if ch == "\\" and inside:
            i += 2
            continue
        if ch == '"':
            inside = not inside
        i += 1
    return inside


class Suppressions:
    """The ignore comments of every file a constitution came from."""

    def __init__(self, constitution: Constitution, sources: dict[str, str] | None = None):
        self.by_file: dict[str, dict[int, set[str]]] = {}
        self.blocks: dict[str, tuple[str, int, int]] = {}
        paths = {p.span.path for p in constitution.principles} | {constitution.span.path}
        paths |= set(constitution.sources)
        for path in paths:
            text = (sources or {}).get(path)
            if text is None:
                try:
                    text = Path(path).read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
            self.by_file[_norm(path)] = comment_ignores(text)
        for p in constitution.principles:
            self.blocks[p.name] = (_norm(p.span.path), p.span.line, p.span.end_line)

    def _hit(self, path: str, lines: Iterable[int], code: str, name: str | None) -> bool:
        table = self.by_file.get(_norm(path))
        if not table:
            return False
        keys = {code.lower(), (name or "").lower(), ALL}
        return any(table.get(no, set()) & keys for no in lines)

    def suppressed(self, d: Diagnostic) -> bool:
        if self._hit(d.path, [d.line], d.code, d.name):
            return True
        for name in d.principles:
            block = self.blocks.get(name)
            if block and self._hit(block[0], range(block[1], block[2] + 1), d.code, d.name):
                return True
        return False


@functools.lru_cache(maxsize=1024)
def _norm(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except OSError:  # pragma: no cover
        return path
