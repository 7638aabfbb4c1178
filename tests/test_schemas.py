"""``caic schema``: every artefact's JSON Schema is in docs/schemas and up to date, and the
files caic writes validate against them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from caic.cli.schema import ARTEFACTS, schema_of, schema_text
from caic.io import read_jsonl

DOCS = Path(__file__).parent.parent / "docs" / "schemas"


def test_docs_schemas_are_current() -> None:
    """Fails when a model changed and `caic schema --write docs/schemas` was not run."""
    assert {p.stem for p in DOCS.glob("*.json")} == set(ARTEFACTS)
    for name in ARTEFACTS:
        assert (DOCS / f"{name}.json").read_text(encoding="utf-8") == schema_text(name), name


def test_every_artefact_has_a_schema_version_or_lives_in_one() -> None:
    """Row files carry it per row or in the manifest of the folder they live in."""
    with_version = {n for n in ARTEFACTS if "schema_version" in schema_of(n)["properties"]}
    assert {"promptset-manifest", "sl-cai-trace", "sft-row", "pair", "label"} <= with_version
    assert {"run-record", "eval-manifest", "constitution-diff"} <= with_version


def test_compiled_promptset_validates(tmp_path: Path) -> None:
    out = tmp_path / "ps"
    r = subprocess.run(
        [sys.executable, "-m", "caic", "compile", "hhh-v2", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    files = {
        "manifest.json": "promptset-manifest",
        "principles.jsonl": "principle",
        "critique.jsonl": "critique-prompt",
        "revision.jsonl": "revision-prompt",
        "judge.jsonl": "judge-prompt",
    }
    for file, name in files.items():
        validator = jsonschema.Draft202012Validator(schema_of(name))
        text = (out / file).read_text(encoding="utf-8")
        rows = (
            [json.loads(text)]
            if file.endswith(".json")
            else [json.loads(line) for line in text.splitlines()]
        )
        assert rows
        for row in rows:
            validator.validate(row)
        with pytest.raises(jsonschema.ValidationError):
            validator.validate({**rows[0], "not_a_field": 1})


def test_schema_command_lists_prints_and_refuses() -> None:
    def caic(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "caic", "schema", *args], capture_output=True, text=True
        )

    listed = caic()
    assert listed.returncode == 0 and all(n in listed.stdout for n in ARTEFACTS)
    one = caic("label")
    assert one.returncode == 0 and json.loads(one.stdout)["$id"] == "label"
    bad = caic("lable")
    assert bad.returncode == 2 and "did you mean `label`" in bad.stderr


def test_readers_name_file_line_and_field(tmp_path: Path) -> None:
    """caic's own rows are read back through their models: a bad row is one error naming
    the file, the line and the field."""
    from caic.errors import CaicError
    from caic.evals.report.runs import load_run
    from caic.training.slcai import sft_rows

    traces = tmp_path / "traces.jsonl"
    traces.write_text('{"id": "p1"}\n', encoding="utf-8")
    with pytest.raises(CaicError) as e:
        sft_rows(read_jsonl(traces), str(traces))
    d = e.value.diagnostics[0]
    assert (d.path, d.line, d.code) == (str(traces), 1, "E006")
    assert d.message.startswith("not an sl-cai trace row: ") and "Field required" in d.message

    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(
        json.dumps({"schema_version": 1, "kind": "eval-run", "metrics": {}}), encoding="utf-8"
    )
    good = {"uid": "s:1", "suite": "s", "id": "1", "category": None, "input": {}, "output": "x"}
    (run / "samples.jsonl").write_text(
        json.dumps({**good, "scores": {}}) + "\n" + json.dumps({**good, "uid": "s:2"}) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(CaicError) as e:
        load_run(run)
    d = e.value.diagnostics[0]
    assert (d.line, d.code) == (2, "E302") and "not an eval sample row: scores:" in d.message
