"""The lint, compile and fmt jobs as library calls (DESIGN §3): a Python caller builds the same
config the command line builds, calls the function and reads a typed result; a config
rejects a bad value before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from report_fixtures import cli
from test_lint_probe import OpinionatedJudge, cai_file, probe_file

from caic.compiler.compile_job import CompileConfig, CompileResult, compile_job
from caic.compiler.lint.output import render
from caic.constitution_lang.format_job import FormatConfig, format_files
from caic.errors import UsageError
from caic.training.lint_job import LintJobConfig, LintResult, lint_job

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
FLAWED = ROOT / "constitutions" / "flawed.cai"


pytestmark = pytest.mark.usefixtures("lint_cache")


def test_static_lint_of_a_shipped_constitution() -> None:
    result = lint_job(LintJobConfig(files=[FLAWED], select=["CAI201"]))
    assert isinstance(result, LintResult)
    assert result.files == 1 and result.errors == [] and result.exit_code == 1
    assert [d.code for d in result.findings] == ["CAI201"]
    d = result.findings[0]
    assert (d.path, d.line, d.column, d.severity) == (str(FLAWED), 66, 7, "warning")
    assert d.principles == ("no-addresses",) and "(`must`)" in d.message
    assert result.diagnostics == result.findings


def test_the_command_prints_what_the_job_returns() -> None:
    result = lint_job(LintJobConfig(files=[FLAWED], select=["CAI2", "CAI3"]))
    code, out, _ = cli("lint", FLAWED, "--select", "CAI2,CAI3", "--format", "json")
    assert code == result.exit_code == 1
    assert out.strip() == render(result.diagnostics, "json")
    assert json.loads(out) == [d.as_json() for d in result.diagnostics]
    assert {d.code[:4] for d in result.findings} == {"CAI2", "CAI3"}


def test_select_and_ignore_split_like_the_options() -> None:
    cfg = LintJobConfig(files=[FLAWED], select=["CAI201,CAI1", "CAI3 CAI9"], ignore="CAI101")
    assert cfg.select == ["CAI201", "CAI1", "CAI3", "CAI9"]
    assert cfg.ignore == ["CAI101"]
    assert LintJobConfig(files=[FLAWED]).select is None  # None keeps pyproject.toml's


def test_probe_keys_never_reach_the_static_rules() -> None:
    """CAI901 is no static rule: selecting it with a static code is no configuration error,
    and without --probe it adds nothing."""
    result = lint_job(LintJobConfig(files=[FLAWED], select=["CAI201,CAI901"]))
    assert result.errors == [] and [d.code for d in result.findings] == ["CAI201"]


def test_a_file_that_cannot_be_linted_is_an_error_of_the_result(tmp_path: Path) -> None:
    missing = tmp_path / "nope.cai"
    result = lint_job(LintJobConfig(files=[missing, FLAWED], select=["CAI201"]))
    assert result.files == 2 and result.exit_code == 2
    assert [(d.code, d.path) for d in result.errors] == [("E004", str(missing))]
    assert [d.code for d in result.diagnostics] == ["E004", "CAI201"]


def test_usage_mistakes_raise() -> None:
    with pytest.raises(UsageError, match="no files to lint"):
        lint_job(LintJobConfig())
    with pytest.raises(UsageError, match="--judge needs --deep or --probe"):
        lint_job(LintJobConfig(files=[FLAWED], judge="openai:http://localhost:1#m"))


def test_configs_reject_bad_values() -> None:
    with pytest.raises(UsageError, match="unknown --format `xml`") as exc:
        LintJobConfig(files=[FLAWED], format="xml")  # type: ignore[arg-type]
    assert exc.value.diagnostics[0].hint == "one of human, json, sarif, github"
    with pytest.raises(ValidationError, match="greater than or equal to 2"):
        LintJobConfig(files=[FLAWED], probe_min_pairs=1)
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        LintJobConfig(files=[FLAWED], selcet=["CAI1"])  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="less than or equal to 8"):
        CompileConfig(file=Path("hhh-v2"), rounds=9)
    with pytest.raises(UsageError, match="unknown --format `parquet`"):
        CompileConfig(file=Path("hhh-v2"), format="parquet")  # type: ignore[arg-type]
    cfg = LintJobConfig(files=[FLAWED])
    with pytest.raises(ValidationError, match="frozen"):
        cfg.deep = True  # type: ignore[misc]


def test_probe_findings_and_what_the_job_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from caic.backends import registry

    fake = OpinionatedJudge()
    monkeypatch.setattr(registry, "get_backend", lambda spec=None, **kw: fake)
    said: list[str] = []
    cfg = LintJobConfig(
        files=[cai_file(tmp_path)],
        probe=str(probe_file(tmp_path)),
        select=["CAI901", "CAI902"],
        ignore=["redundant-in-practice"],
    )
    result = lint_job(cfg, say=said.append)
    assert result.exit_code == 1 and fake.score_calls == 1
    assert {(d.code, d.principles) for d in result.findings} == {
        ("CAI901", ("harmless", "helpful")),
        ("CAI901", ("harmless", "useful")),
    }
    assert said == ["probing 3 principles of probe-test over 6 pairs with fake-judge ..."]
    sarif = json.loads(render(result.diagnostics, "sarif"))
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert [r["name"] for r in rules if r["id"] == "CAI901"] == ["conflict-in-practice"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in sarif["runs"][0]["results"])


def test_too_few_probe_pairs_is_said_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from caic.backends import registry

    monkeypatch.setattr(registry, "get_backend", lambda spec=None, **kw: OpinionatedJudge())
    said: list[str] = []
    cfg = LintJobConfig(
        files=[cai_file(tmp_path)], probe=str(probe_file(tmp_path, 3)), select=["CAI9"]
    )
    result = lint_job(cfg, say=said.append)
    assert result.findings == [] and result.exit_code == 0
    assert "only 3 probe pairs, fewer than the 5 a correlation needs" in said[-1]


def test_render_has_no_human_text() -> None:
    with pytest.raises(ValueError, match="human"):
        render([], "human")
    assert render([], "json") == "[]" and render([], "github") == ""


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_compile_job_writes_what_the_command_writes(tmp_path: Path) -> None:
    prompts = str(DATA / "prompts_small.jsonl")
    cfg = CompileConfig(file=Path("hhh-v2"), out=tmp_path / "lib", prompts=prompts, seed=3)
    result = compile_job(cfg)
    assert isinstance(result, CompileResult)
    assert result.out == tmp_path / "lib" and result.format == "jsonl"
    assert result.records["sl_cai_jobs.jsonl"] == 3
    assert set(result.records) == {
        "principles.jsonl",
        "critique.jsonl",
        "revision.jsonl",
        "judge.jsonl",
        "sl_cai_jobs.jsonl",
    }
    manifest = json.loads((result.out / "manifest.json").read_text(encoding="utf-8"))
    assert {n: v["records"] for n, v in manifest["files"].items()} == result.records
    lines = (result.out / "sl_cai_jobs.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3

    code, out, err = cli(
        "compile", "hhh-v2", "-o", tmp_path / "cli", "--prompts", prompts, "--seed", "3"
    )
    assert code == 0 and out.strip() == str(tmp_path / "cli")
    assert f"wrote {tmp_path / 'cli'} (critique.jsonl: " in err
    assert _tree(tmp_path / "cli") == _tree(result.out)


def test_compile_job_default_output_is_next_to_the_file(tmp_path: Path) -> None:
    src = tmp_path / "mine.cai"
    src.write_text((ROOT / "constitutions" / "hhh-v2.cai").read_text(encoding="utf-8"))
    result = compile_job(CompileConfig(file=src))
    assert result.out == tmp_path / "mine.promptset"
    assert (result.out / "manifest.json").is_file() and "judge.jsonl" in result.records


def test_compile_job_raises_the_parse_error(tmp_path: Path) -> None:
    from caic.errors import CaicError

    bad = DATA / "invalid" / "priority_cycle.cai"
    with pytest.raises(CaicError) as exc:
        compile_job(CompileConfig(file=bad, out=tmp_path / "x"))
    assert exc.value.exit_code == 1 and exc.value.diagnostics[0].code == "E104"
    assert not (tmp_path / "x").exists()


UGLY = """cai 1
constitution   "x" {
  category   c {
 principle p { judge "Choose the better one." }
  }
}
"""


def test_format_files_checks_then_rewrites(tmp_path: Path) -> None:
    ugly, missing = tmp_path / "a.cai", tmp_path / "nope.cai"
    ugly.write_text(UGLY, encoding="utf-8")
    tidy = tmp_path / "b.cai"
    tidy.write_text((ROOT / "constitutions" / "hhh-v2.cai").read_text(encoding="utf-8"))
    checked = format_files(FormatConfig(files=[ugly, tidy, missing], check=True))
    assert checked.changed == [ugly] and ugly.read_text(encoding="utf-8") == UGLY
    assert checked.diff.startswith(f"--- {ugly} (current)\n+++ {ugly} (formatted)\n")
    assert "+    principle p {" in checked.diff
    assert [(d.code, d.path) for d in checked.errors] == [("E004", str(missing))]

    said: list[str] = []
    done = format_files(FormatConfig(files=[ugly, tidy]), say=said.append)
    assert done.changed == [ugly] and done.diff == "" and done.errors == []
    assert said == [f"formatted {ugly}"]
    assert format_files(FormatConfig(files=[ugly], check=True)).changed == []
    with pytest.raises(ValidationError, match="Field required"):
        FormatConfig(check=True)  # type: ignore[call-arg]
