"""The one data reader: rows from JSONL, JSON, CSV or Parquet files, a ``save_to_disk``
folder, or a Hugging Face dataset id, each row with the place it came from.

Every stage that reads user data (``compile --prompts/--pairs``, ``sl-cai``, ``rlaif``,
``eval``, ``train``) reads it here, so a source is written the same way everywhere and a
bad row is reported the same way everywhere: ``path:line: error[E005] ...`` for a row that
cannot be parsed, exit 2, before anything is written.

Sources:

- a file: ``.jsonl``, ``.json`` (a list of objects, or an object holding one), ``.csv``
  (each also ``.gz``), ``.parquet``;
- a folder written by ``datasets.Dataset.save_to_disk``;
- a Hugging Face dataset id: ``owner/name``, ``owner/name:config``,
  ``owner/name:config@split`` or ``owner/name@split`` (needs ``datasets``; uses the
  network or the local cache, never required by tests). Without ``@split`` the caller's
  ``split`` is used, and without that the ``test`` split, else ``train``, else the first.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from caic.errors import usage_error
from caic.io import dumps_json, read_csv, read_jsonl, sha256_file

HF_ID = re.compile(r"[\w.-]+/[\w.-]+(?::[\w.-]+)?(?:@[\w.\[\]:%-]+)?")
"""``owner/name[:config][@split]``."""
FILE_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet", ".gz")


class Row(NamedTuple):
    """One row and where it came from (``line`` is the row's 1-based number in a dataset);
    unpacks as ``path, line, data``."""

    path: str
    line: int
    data: dict[str, Any]


def is_hf_id(source: str) -> bool:
    """Whether ``source`` reads as a Hugging Face dataset id rather than a file name."""
    return bool(HF_ID.fullmatch(source)) and not source.endswith(FILE_SUFFIXES)


def iter_rows(source: str, split: str | None = None) -> Iterator[Row]:
    """The rows of ``source`` in order (see the module docstring for what it may be)."""
    p = Path(source).expanduser()
    if p.is_file():
        yield from _file_rows(p, source)
    elif p.is_dir():
        yield from _rows_of(_load_from_disk(p, source, split), source)
    elif is_hf_id(source):
        yield from _rows_of(_load_hub(source, split), source)
    else:
        raise usage_error(
            "no such file (and not a Hugging Face dataset id)", path=source, code="E004"
        )


def read_rows(source: str, split: str | None = None) -> tuple[list[Row], str]:
    """All rows of ``source`` and a sha256 that changes when they do: of the file's bytes,
    or of the rows as canonical JSON for a dataset."""
    rows = list(iter_rows(source, split))
    p = Path(source).expanduser()
    if p.is_file():
        return rows, sha256_file(p)
    h = hashlib.sha256()
    for r in rows:
        h.update(dumps_json(r.data).encode("utf-8") + b"\n")
    return rows, h.hexdigest()


def _file_rows(p: Path, source: str) -> Iterator[Row]:
    name = p.name.removesuffix(".gz")
    if name.endswith(".csv"):
        for n, row in read_csv(p):
            yield Row(source, n, dict(row))
    elif name.endswith(".json"):
        yield from _json_rows(p, source)
    elif name.endswith(".parquet"):
        yield from _parquet_rows(p, source)
    else:
        for n, obj in read_jsonl(p):
            yield Row(source, n, obj)


def _json_rows(p: Path, source: str) -> Iterator[Row]:
    from caic.io import open_text

    with open_text(p) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise usage_error(
                f"malformed JSON: {e.msg}", path=source, line=e.lineno, column=e.colno, code="E005"
            ) from None
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), [data])
    for i, row in enumerate(data, 1):
        if not isinstance(row, dict):
            raise usage_error("expected a list of objects", path=source, line=i, code="E005")
        yield Row(source, i, row)


def _parquet_rows(p: Path, source: str) -> Iterator[Row]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise usage_error(
            "reading Parquet needs `pyarrow`", path=source, hint="pip install 'caic[ml]'"
        ) from None
    try:
        table = pq.read_table(p)
    except Exception as e:  # not Parquet, truncated, unreadable
        first = f"{e}".splitlines()[0] if str(e) else type(e).__name__
        raise usage_error(f"malformed Parquet: {first}", path=source, code="E005") from None
    for i, row in enumerate(table.to_pylist(), 1):
        yield Row(source, i, row)


def _datasets(source: str) -> Any:
    try:
        import datasets
    except ImportError:
        raise usage_error(
            "reading a Hugging Face dataset needs `datasets`",
            path=source,
            hint="pip install 'caic[ml]'",
        ) from None
    return datasets


def _pick_split(loaded: Any, source: str, split: str | None) -> Any:
    datasets = _datasets(source)
    if not isinstance(loaded, datasets.DatasetDict):
        return loaded
    names = list(loaded)
    if split is not None:
        if split not in loaded:
            raise usage_error(f"no split `{split}` (has {', '.join(names)})", path=source)
        return loaded[split]
    return loaded[next((s for s in ("test", "train") if s in names), names[0])]


def _load_from_disk(p: Path, source: str, split: str | None) -> Any:
    datasets = _datasets(source)
    try:
        loaded = datasets.load_from_disk(str(p))
    except (FileNotFoundError, ValueError) as e:
        raise usage_error(f"not a saved dataset folder: {e}".splitlines()[0], path=source) from None
    return _pick_split(loaded, source, split)


def _load_hub(source: str, split: str | None) -> Any:
    datasets = _datasets(source)
    ds_id, _, at = source.partition("@")
    ds_id, _, cfg = ds_id.partition(":")
    try:
        loaded = datasets.load_dataset(ds_id, cfg or None, split=at or split)
    except Exception as e:  # network, missing dataset, bad config or split
        first = f"{e}".splitlines()[0] if str(e) else type(e).__name__
        raise usage_error(f"cannot load Hugging Face dataset: {first}", path=source) from None
    return _pick_split(loaded, source, None)


def _rows_of(ds: Any, source: str) -> Iterator[Row]:
    for i, row in enumerate(ds, 1):
        yield Row(source, i, dict(row))
