"""The eval, classify, report and diff jobs as library calls: one config in, a typed
result (and the files written) out, with no command line involved; and each command's
options are exactly its config's fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from evals_fakes import FakeBackend
from pydantic import BaseModel, ValidationError
from report_fixtures import two_runs

from caic.compiler.diff import ConstitutionDiff
from caic.compiler.diff_job import DiffConfig, diff
from caic.errors import CaicError, UsageError
from caic.evals.classify_job import ClassifyConfig, ClassifyResult, classify
from caic.evals.report.job import ReportConfig, ReportResult, report
from caic.evals.run import EvalConfig, run_eval

FORMATS = Path(__file__).parent / "data" / "formats"
COMPLETIONS = str(FORMATS / "completions_xstest.csv")


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]


# -- caic eval ---------------------------------------------------------------------------


def test_eval_config_reads_the_command_line_forms(tmp_path: Path) -> None:
    xstest = str(FORMATS / "xstest_prompts.csv")
    cfg = EvalConfig(
        suites=" harmlessness, over-refusal,", out=tmp_path, data=[f"over-refusal={xstest}"]
    )
    assert cfg.suites == ("harmlessness", "over-refusal")
    assert cfg.data == {"over-refusal": xstest}
    one = EvalConfig(suites="sycophancy", out=tmp_path, data=["mine.jsonl"])
    assert one.data == {"sycophancy": "mine.jsonl"}  # one suite: a bare source is its data
    assert EvalConfig(suites=("sycophancy",), out=tmp_path).data == {}
    assert EvalConfig(suites=("sycophancy",), out=tmp_path).format == "human"


def test_eval_config_rejects_bad_values(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--suite names no suite"):
        EvalConfig(suites=" , ", out=tmp_path)
    with pytest.raises(UsageError, match="with several suites, name the suite") as e:
        EvalConfig(suites="harmlessness,sycophancy", out=tmp_path, data=["x.csv"])
    assert e.value.diagnostics[0].hint == "e.g. --data over-refusal=xstest_prompts.csv"
    with pytest.raises(UsageError, match="unknown --format `xml`") as e:
        EvalConfig(suites="harmlessness", out=tmp_path, format="xml")
    assert e.value.diagnostics[0].hint == "one of human, json"
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        EvalConfig(suites="harmlessness", out=tmp_path, limit=0)
    with pytest.raises(ValidationError, match="extra"):
        EvalConfig(suites="harmlessness", out=tmp_path, sutes="x")  # type: ignore[call-arg]


def test_run_eval_from_a_config_writes_the_run_and_reports_progress(tmp_path: Path) -> None:
    out = tmp_path / "run"
    xstest = f"over-refusal={FORMATS / 'xstest_prompts.csv'}"
    cfg = EvalConfig(suites="harmlessness,over-refusal", out=out, limit=3, data=[xstest])
    seen: list[tuple[str, int, int]] = []
    manifest = run_eval(cfg, backend=FakeBackend(), progress=lambda *a: seen.append(a))
    assert manifest == json.loads((out / "manifest.json").read_text())
    assert manifest["suites"] == ["harmlessness", "over-refusal"]
    assert manifest["data"]["over-refusal"]["n"] == 3
    assert len(lines(out / "samples.jsonl")) == 6
    assert seen[0] == ("harmlessness", 0, 3) and seen[-1] == ("over-refusal", 3, 3)
    # resumed: nothing left to do, so the progress starts (and stays) at the total
    seen.clear()
    run_eval(cfg, backend=FakeBackend(), progress=lambda *a: seen.append(a))
    assert seen == [("harmlessness", 3, 3), ("over-refusal", 3, 3)]
    assert len(lines(out / "samples.jsonl")) == 6


# -- caic refusal classify -----------------------------------------------------------------


def test_classify_from_a_config(tmp_path: Path) -> None:
    out = tmp_path / "labels.jsonl"
    said: list[str] = []
    result = classify(ClassifyConfig(file=COMPLETIONS, out=out, batch_size=2), say=said.append)
    assert isinstance(result, ClassifyResult)
    assert result.out == out and result.total == 3 and result.labelled == 3
    assert result.counts == {"full_compliance": 1, "full_refusal": 1, "partial_refusal": 1}
    assert list(result.counts) == ["full_compliance", "full_refusal", "partial_refusal"]
    assert result.agreement == 1.0
    rows = lines(out)
    assert [r["id"] for r in rows] == ["10", "11", "12"] and all(r["agrees"] for r in rows)
    assert said == []  # nothing to say without explain
    again = classify(ClassifyConfig(file=COMPLETIONS, out=out))  # resumes: nothing added
    assert again.total == 3 and len(lines(out)) == 3


def test_classify_explains_through_say(tmp_path: Path) -> None:
    said: list[str] = []
    cfg = ClassifyConfig(file=COMPLETIONS, out=tmp_path / "x.jsonl", explain=True)
    classify(cfg, say=said.append)
    assert len(said) == 3
    assert said[1].startswith("11: full_refusal  (")
    assert "\n  rules: full_refusal\n" in said[1]
    assert "    [refusal] but I can't help with killing anything." in said[1]


def test_classify_with_a_judge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from caic.backends import registry

    fake = FakeBackend(pick=lambda conv, options, prefix: "B")
    monkeypatch.setattr(registry, "get_backend", lambda spec=None, **kw: fake)
    result = classify(ClassifyConfig(file=COMPLETIONS, out=tmp_path / "j.jsonl", judge="x"))
    assert result.counts == {"full_compliance": 0, "full_refusal": 3, "partial_refusal": 0}
    assert result.agreement == pytest.approx(1 / 3)
    assert lines(tmp_path / "j.jsonl")[0]["refusal_class_judge"] == "full_refusal"
    assert fake.closed


def test_classify_config_rejects_bad_values(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="batch_size"):
        ClassifyConfig(file=COMPLETIONS, out=tmp_path / "x.jsonl", batch_size=0)


# -- caic report -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return two_runs(tmp_path_factory.mktemp("runs"))


def test_report_from_a_config_writes_the_file_and_evaluates_gates(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "r.json"
    gates = [
        "over_refusal.full_refusal_rate.delta > 0.05",
        "label_agreement.accuracy < 0.5",
    ]
    result = report(ReportConfig(runs=list(runs), out=out, fail_on=gates))
    assert isinstance(result, ReportResult)
    assert result.out == out and result.text is None
    rep = json.loads(out.read_text())
    assert rep["kind"] == "eval-report" and rep["baseline"] == "v1"
    assert [(g.gate, g.run, g.failed) for g in result.gates] == [
        ("over_refusal.full_refusal_rate.delta > 0.05", "v2", True),
        ("label_agreement.accuracy < 0.5", "v1", False),
        ("label_agreement.accuracy < 0.5", "v2", False),
    ]
    assert [g.gate for g in result.failed] == [gates[0]]
    assert result.failed[0].value == pytest.approx(rep["gates"][0]["value"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_report_without_out_returns_markdown(runs: tuple[Path, Path], tmp_path: Path) -> None:
    result = report(ReportConfig(runs=[runs[1]], baseline=runs[0]))
    assert result.out is None and result.gates == [] and result.failed == []
    assert result.text is not None
    assert result.text.startswith("## caic report: `v1` vs `v2` (baseline `v1`)")
    html = report(ReportConfig(runs=list(runs), baseline=runs[1], out=tmp_path / "r.HTML"))
    assert html.text is None and "baseline <b>v2</b>" in (tmp_path / "r.HTML").read_text()


def test_report_config_and_gates_reject_bad_values(runs: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown report format `.pdf`"):
        ReportConfig(runs=list(runs), out=tmp_path / "r.pdf")
    with pytest.raises(ValidationError, match="greater than or equal to 100"):
        ReportConfig(runs=list(runs), resamples=5)
    cfg = ReportConfig(runs=list(runs), out=tmp_path / "r.md", fail_on=["over_refusal.nope > 0"])
    with pytest.raises(UsageError, match="unknown metric `over_refusal.nope`"):
        report(cfg)
    assert not (tmp_path / "r.md").exists()  # refused before any output


# -- caic diff -------------------------------------------------------------------------------


def test_diff_from_a_config() -> None:
    result = diff(DiffConfig(old="cai-2022-harmless", new="hhh-v2", format="json"))
    assert isinstance(result.diff, ConstitutionDiff) and result.diff.changes
    assert result.text.endswith("\n")
    assert json.loads(result.text) == result.diff.model_dump(mode="json")
    md = diff(DiffConfig(old="cai-2022-harmless", new="hhh-v2", format="md"))
    assert md.text.startswith("### Constitution diff") and md.diff == result.diff
    human = diff(DiffConfig(old="cai-2022-harmless", new="hhh-v2"))
    assert "setting sampling: uniform → weighted" in human.text
    same = diff(DiffConfig(old="hhh-v2", new="hhh-v2", rename_threshold=0.3))
    assert same.diff.changes == () and same.diff.rename_threshold == 0.3


def test_diff_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such constitution: no-such-name") as missing:
        diff(DiffConfig(old="hhh-v2", new="no-such-name"))
    assert missing.value.diagnostics[0].hint == "give a path or a shipped name"
    broken = tmp_path / "broken.cai"
    broken.write_text('constitution "x" { category c {', encoding="utf-8")
    with pytest.raises(CaicError) as e:
        diff(DiffConfig(old="hhh-v2", new=str(broken)))
    assert e.value.exit_code == 2 and not isinstance(e.value, UsageError)
    assert e.value.diagnostics[0].path == str(broken)
    with pytest.raises(UsageError, match="unknown --format `xml`"):
        DiffConfig(old="a", new="b", format="xml")
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        DiffConfig(old="a", new="b", rename_threshold=2)


# -- the commands are their configs ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "config"),
    [
        (("eval",), EvalConfig),
        (("refusal", "classify"), ClassifyConfig),
        (("report",), ReportConfig),
        (("diff",), DiffConfig),
    ],
)
def test_each_command_has_one_option_per_config_field(
    path: tuple[str, ...], config: type[BaseModel]
) -> None:
    from caic.cli import app, commands  # noqa: F401  (registers the sub-commands)

    cmd: Any = typer.main.get_command(app)
    for word in path:
        cmd = cmd.commands[word]
    params = {p.name for p in cmd.params if p.name != "help"}
    assert params == set(config.model_fields)
    for p in cmd.params:
        if p.name in config.model_fields and config.model_fields[p.name].description:
            assert p.help == " ".join(config.model_fields[p.name].description.split())
