"""File helpers shared by every stage: atomic writes and line-numbered readers.

Outputs are written to a temporary file in the destination's folder and renamed
into place, so an interrupted write never leaves half a file behind. Readers
report malformed rows as ``path:line`` errors instead of tracebacks.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from caic.errors import usage_error

if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dumps_json(obj: Any) -> str:
    """Canonical JSON for artefacts: sorted keys, UTF-8, no spaces to vary."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def source_sha256(source: str, rows: Iterable[Any]) -> str:
    """What a job's fingerprint records of its input: the file's sha256, or for a source
    that is not a file (a Hugging Face dataset) the sha256 of the rows as read."""
    if Path(source).is_file():
        return sha256_file(source)
    return sha256_bytes("\n".join(dumps_json(r) for r in rows).encode())


def _umask() -> int:
    """The process's umask (read once, at import: setting it back and forth is not
    thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_MODE = 0o666 & ~_umask()
"""Mode of a new output file, as ``open()`` would create it (``mkstemp`` makes 0600)."""


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Write ``path`` through a temporary sibling file renamed into place on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    with atomic_write(path) as f:
        f.write(text)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a directory in a temporary sibling and swap it into place on success.

    An interrupted build leaves ``path`` as it was (absent, or the previous
    complete version), never half-written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old.{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def open_text(path: str | os.PathLike[str]) -> IO[str]:
    """Open a text file, transparently un-gzipping ``.gz``; missing files are usage errors."""
    p = Path(path)
    if not p.exists():
        raise usage_error(f"no such file: {p}", path=str(p), code="E004")
    if p.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(p, "rb"), encoding="utf-8")
    return open(p, encoding="utf-8")


def read_json(path: str | os.PathLike[str]) -> Any:
    """A whole JSON file; a missing file or malformed JSON is a ``path:line:col`` error."""
    with open_text(path) as f:
        text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise usage_error(
            f"malformed JSON: {e.msg}", path=str(path), line=e.lineno, column=e.colno, code="E005"
        ) from None


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line_number, object)`` per non-blank line; bad rows are ``path:line`` errors."""
    with open_text(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise usage_error(
                    f"malformed JSON: {e.msg}", path=str(path), line=n, column=e.colno, code="E005"
                ) from None
            if not isinstance(obj, dict):
                raise usage_error(
                    "each line must be a JSON object", path=str(path), line=n, code="E005"
                )
            yield n, obj


def validate_row(
    model: type[M], obj: Any, *, path: str, line: int, what: str, code: str = "E006"
) -> M:
    """``obj`` as a ``model``; a row that does not fit is one error,
    ``path:line: not WHAT row: field: problem``."""
    from pydantic import ValidationError

    try:
        return model.model_validate(obj)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "row"
        raise usage_error(
            f"not {what} row: {where}: {err['msg']}", path=path, line=line, code=code
        ) from None


def read_models(
    path: str | os.PathLike[str], model: type[M], what: str, code: str = "E006"
) -> Iterator[tuple[int, M]]:
    """``(line_number, row)`` of a JSONL file of caic's own rows, each validated against
    ``model`` (:func:`validate_row`)."""
    for n, obj in read_jsonl(path):
        yield n, validate_row(model, obj, path=str(path), line=n, what=what, code=code)


def read_csv(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, row)`` for each CSV record (header on line 1)."""
    with open_text(path) as f:
        reader = csv.DictReader(f)
        for row in reader:
            yield reader.line_num, row


def append_jsonl(f: IO[str], rows: Iterable[dict[str, Any]]) -> None:
    """Append rows and flush them to disk, so a kill loses at most the row being written."""
    for row in rows:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
    f.flush()
    os.fsync(f.fileno())


def resume_jsonl(path: str | os.PathLike[str], key: str) -> set[Any]:
    """Keys of the complete rows already in ``path``; drops a torn last line.

    A run killed mid-write can leave a partial final line. It is truncated away
    here so the resumed run appends cleanly after the last complete row.
    """
    p = Path(path)
    if not p.exists():
        return set()
    data = p.read_bytes()
    keep = data.rfind(b"\n") + 1
    if keep != len(data):
        with open(p, "r+b") as f:
            f.truncate(keep)
    done: set[Any] = set()
    for line in data[:keep].decode("utf-8").splitlines():
        if line.strip():
            done.add(json.loads(line)[key])
    return done
