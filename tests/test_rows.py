"""The one data reader (``caic.rows``): every file format gives the same rows, a bad row is
the same ``path:line`` error wherever it is read, and the stages read through it."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from caic.errors import CaicError
from caic.rows import is_hf_id, iter_rows, read_rows

ROWS = [{"id": "p1", "prompt": "How do I boil an egg?"}, {"id": "p2", "prompt": "Hi"}]


def _write_all(tmp_path: Path) -> dict[str, Path]:
    out = {}
    jsonl = "".join(json.dumps(r) + "\n" for r in ROWS)
    out["jsonl"] = tmp_path / "p.jsonl"
    out["jsonl"].write_text(jsonl, encoding="utf-8")
    out["gz"] = tmp_path / "p.jsonl.gz"
    out["gz"].write_bytes(gzip.compress(jsonl.encode()))
    out["json"] = tmp_path / "p.json"
    out["json"].write_text(json.dumps({"rows": ROWS}), encoding="utf-8")
    out["csv"] = tmp_path / "p.csv"
    with open(out["csv"], "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["id", "prompt"])
        w.writeheader()
        w.writerows(ROWS)
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    out["parquet"] = tmp_path / "p.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), out["parquet"])
    datasets = pytest.importorskip("datasets")
    out["folder"] = tmp_path / "saved"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS)}).save_to_disk(
        str(out["folder"])
    )
    return out


def test_every_format_gives_the_same_rows(tmp_path: Path) -> None:
    for kind, path in _write_all(tmp_path).items():
        rows, sha = read_rows(str(path))
        assert [r.data for r in rows] == ROWS, kind
        assert all(r.path == str(path) for r in rows) and len(sha) == 64
        path_, line, data = rows[1]  # unpacks as (path, line, data)
        assert data == ROWS[1] and line >= 2


def test_bad_rows_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "prompt": "x"}\n\n{"id": "b", "prompt": \n', encoding="utf-8")
    with pytest.raises(CaicError) as e:
        list(iter_rows(str(bad)))
    d = e.value.diagnostics[0]
    assert (d.path, d.line, d.code) == (str(bad), 3, "E005")
    notjson = tmp_path / "bad.json"
    notjson.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(CaicError, match="expected a list of objects"):
        list(iter_rows(str(notjson)))
    parquet = tmp_path / "bad.parquet"
    parquet.write_bytes(b"not parquet at all")
    pytest.importorskip("pyarrow")
    with pytest.raises(CaicError, match="malformed Parquet") as e:
        list(iter_rows(str(parquet)))
    assert e.value.diagnostics[0].code == "E005"


def test_missing_source_is_e004(tmp_path: Path) -> None:
    with pytest.raises(CaicError) as e:
        list(iter_rows(str(tmp_path / "nope.jsonl")))
    assert e.value.diagnostics[0].code == "E004" and e.value.exit_code == 2


def test_saved_folder_split(tmp_path: Path) -> None:
    folder = _write_all(tmp_path)["folder"]
    assert len(list(iter_rows(str(folder), split="train"))) == 2
    with pytest.raises(CaicError, match="no split `test` \\(has train\\)"):
        list(iter_rows(str(folder), split="test"))


@pytest.mark.parametrize(
    ("source", "hf"),
    [
        ("Anthropic/hh-rlhf", True),
        ("Anthropic/hh-rlhf:harmless-base", True),
        ("Anthropic/hh-rlhf:harmless-base@test", True),
        ("walledai/XSTest@test", True),
        ("data/prompts.jsonl", False),
        ("prompts.csv", False),
        ("some/file.parquet", False),
        ("no-slash", False),
    ],
)
def test_hugging_face_ids(source: str, hf: bool) -> None:
    assert is_hf_id(source) is hf


def test_stages_read_through_the_one_reader(tmp_path: Path) -> None:
    """compile --prompts, the pair loader, the eval loaders and train's data all report the
    same error for the same bad row."""
    from caic.compiler.data import load_pairs, load_prompts
    from caic.evals.loaders import load_suite
    from caic.training.trainer_data import iter_rows as train_rows

    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n{oops}\n", encoding="utf-8")
    headers = set()
    for read in (
        load_prompts,
        load_pairs,
        lambda s: load_suite("harmlessness", s),
        lambda s: list(train_rows(s)),
    ):
        with pytest.raises(CaicError) as e:
            read(str(bad))
        headers.add(e.value.diagnostics[0].header())
    assert len(headers) == 1 and f"{bad}:2:" in headers.pop()
