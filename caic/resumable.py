"""Resumable JSONL outputs for long jobs (SL-CAI generation, pair sampling, labelling, evals).

Rows are appended and flushed as they finish. A sidecar ``OUT.meta.json`` records
the job's fingerprint (constitution hash, model, seed, sampling parameters, input
hash ...). Started again with the same fingerprint, a job skips the rows already
written; a torn last line from a kill is cut away first, so nothing is duplicated
or dropped. Started with a different fingerprint, it is refused with a message
naming what changed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from caic.errors import usage_error
from caic.io import append_jsonl, resume_jsonl, write_text_atomic


def meta_path(out: str | os.PathLike[str]) -> Path:
    p = Path(out)
    return p.with_name(p.name + ".meta.json")


class ResumableJsonl:
    """Append-only JSONL output keyed by ``key``, safe to kill and restart.

    >>> with ResumableJsonl(path, {"model": "m", "seed": 1}, key="id") as out:  # doctest: +SKIP
    ...     for item in items:
    ...         if item["id"] not in out.done:
    ...             out.append([process(item)])
    """

    def __init__(self, path: str | os.PathLike[str], fingerprint: dict[str, Any], key: str = "id"):
        self.path = Path(path)
        self.key = key
        self.fingerprint = json.loads(json.dumps(fingerprint, sort_keys=True, default=str))
        meta = meta_path(self.path)
        if self.path.exists() and meta.exists():
            old = json.loads(meta.read_text(encoding="utf-8"))
            if old != self.fingerprint:
                changed = sorted(
                    k
                    for k in set(old) | set(self.fingerprint)
                    if old.get(k) != self.fingerprint.get(k)
                )
                detail = ", ".join(
                    f"{k}: {old.get(k)!r} → {self.fingerprint.get(k)!r}" for k in changed[:4]
                )
                raise usage_error(
                    f"{self.path} was written by a run with different inputs ({detail})",
                    path=str(self.path),
                    code="E007",
                    hint="use a new --out, or delete the file to start over",
                )
        elif self.path.exists() and self.path.stat().st_size > 0:
            raise usage_error(
                f"{self.path} exists and was not written by this command",
                path=str(self.path),
                code="E007",
                hint="use a new --out, or delete the file",
            )
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(meta, json.dumps(self.fingerprint, indent=2, sort_keys=True))
        self.done: set[Any] = resume_jsonl(self.path, key)
        self._f: IO[str] | None = None

    def __enter__(self) -> ResumableJsonl:
        self._f = open(self.path, "a", encoding="utf-8")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Write complete rows and flush them to disk."""
        assert self._f is not None, "use ResumableJsonl as a context manager"
        fresh = [r for r in rows if r[self.key] not in self.done]
        append_jsonl(self._f, fresh)
        self.done.update(r[self.key] for r in fresh)

    def rows(self) -> list[dict[str, Any]]:
        """Every complete row written so far."""
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
