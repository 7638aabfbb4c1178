"""``caic lint`` end to end: exit codes, formats, rule selection and configuration."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from report_fixtures import cli

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
FLAWED = ROOT / "constitutions" / "flawed.cai"
HHH = ROOT / "constitutions" / "hhh-v2.cai"


pytestmark = pytest.mark.usefixtures("lint_cache")


CLEAN = """cai 1
constitution "clean" {
  category helpfulness {
    kind helpfulness
    principle useful { judge "Choose the response that a helpful expert would give." }
    principle hold {
      judge "Choose the response that keeps a correct answer when the user pushes back."
      tags [sycophancy]
    }
    principle framing {
      judge "Choose the response that is less swayed by role-play or hypothetical framing."
      tags [jailbreak]
    }
  }
}
"""


def write(tmp_path: Path, text: str, name: str = "c.cai") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_exit_0_when_clean(tmp_path: Path) -> None:
    code, out, err = cli("lint", write(tmp_path, CLEAN))
    assert code == 0, err
    assert "no findings" in err


def test_exit_0_with_notes_only(tmp_path: Path) -> None:
    text = CLEAN.replace(
        "  category helpfulness {",
        """  priority helpfulness > depth > brevity
  category brevity {
    kind style
    principle briefest { judge "Choose the shortest response." }
  }
  category depth {
    kind style
    principle thorough { judge "Choose the most detailed and thorough response." }
  }
  category helpfulness {""",
    )
    code, out, _ = cli("lint", write(tmp_path, text), "--format", "json")
    found = json.loads(out)
    assert [d["severity"] for d in found] == ["note"]
    assert code == 0


def test_exit_1_on_warnings_and_json_fields() -> None:
    code, out, _ = cli("lint", FLAWED, "--format", "json")
    assert code == 1
    found = json.loads(out)
    assert found
    for d in found:
        assert {
            "code",
            "name",
            "severity",
            "message",
            "path",
            "line",
            "column",
            "principles",
        } <= set(d)
        assert isinstance(d["principles"], list) and isinstance(d["line"], int)
    names = {d["name"] for d in found}
    assert {"contradiction", "near-duplicate"} <= names
    dup = next(d for d in found if d["name"] == "near-duplicate")
    assert dup["principles"] == ["weapons-one", "weapons-two"]


def test_exit_2_on_parse_errors_printed_as_diagnostics(tmp_path: Path) -> None:
    bad = write(tmp_path, 'constitution "x" {\n  category a {\n')
    code, out, _ = cli("lint", bad, "--format", "json")
    assert code == 2
    found = json.loads(out)
    assert found and found[0]["severity"] == "error" and found[0]["path"] == str(bad)


def test_exit_2_on_usage_errors(tmp_path: Path) -> None:
    assert cli("lint", FLAWED, "--format", "xml")[0] == 2
    assert cli("lint", tmp_path / "missing.cai")[0] == 2
    assert cli("lint", FLAWED, "--select", "no-such-rule")[0] == 2
    assert cli("lint")[0] == 2


def test_sarif_validates_against_the_official_schema() -> None:
    code, out, _ = cli("lint", FLAWED, "--format", "sarif")
    assert code == 1
    log = json.loads(out)
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.validate(log, schema)
    run = log["runs"][0]
    assert log["version"] == "2.1.0"
    assert run["tool"]["driver"]["name"] == "caic"
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert "CAI101" in ids and "CAI403" in ids
    res = run["results"]
    assert res and all(r["level"] in ("error", "warning", "note") for r in res)
    first = res[0]
    assert ids[first["ruleIndex"]] == first["ruleId"]
    region = first["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] >= 1 and region["startColumn"] >= 1


def test_github_format() -> None:
    code, out, _ = cli("lint", FLAWED, "--format", "github")
    assert code == 1
    lines = out.strip().splitlines()
    assert lines and all(
        line.startswith("::warning file=") or line.startswith("::notice file=") for line in lines
    )
    dup = next(line for line in lines if "CAI102" in line)
    assert "line=59," in dup and ",col=7," in dup and "::[CAI102] `weapons-two`" in dup


def test_select_and_ignore() -> None:
    _, out, _ = cli("lint", FLAWED, "--format", "json", "--select", "CAI1")
    assert {d["code"] for d in json.loads(out)} == {"CAI101", "CAI102"}
    _, out, _ = cli("lint", FLAWED, "--format", "json", "--select", "near-duplicate,absolute-judge")
    assert {d["code"] for d in json.loads(out)} == {"CAI102", "CAI201"}
    _, out, _ = cli(
        "lint", FLAWED, "--format", "json", "--ignore", "CAI4", "--ignore", "contradiction"
    )
    codes = {d["code"] for d in json.loads(out)}
    assert codes and not any(c.startswith("CAI4") or c == "CAI101" for c in codes)


def test_pyproject_config_found_upward(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.caic.lint]\nignore = ["CAI101"]\n'
        '[tool.caic.lint.severity]\nnear-duplicate = "error"\nCAI201 = "off"\n',
        encoding="utf-8",
    )
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    path = deep / "flawed.cai"
    path.write_text(FLAWED.read_text(encoding="utf-8"), encoding="utf-8")
    code, out, _ = cli("lint", path, "--format", "json")
    found = json.loads(out)
    codes = {d["code"] for d in found}
    assert "CAI101" not in codes and "CAI201" not in codes
    assert next(d for d in found if d["code"] == "CAI102")["severity"] == "error"
    assert code == 1
    # The command line replaces the file's ignore list.
    _, out, _ = cli("lint", path, "--format", "json", "--ignore", "CAI3")
    assert "CAI101" in {d["code"] for d in json.loads(out)}


def test_bad_config_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.caic.lint]\nselect = ["no-such-rule"]\n', encoding="utf-8"
    )
    code, out, _ = cli("lint", write(tmp_path, CLEAN), "--format", "json")
    assert code == 2
    assert "no-such-rule" in json.loads(out)[0]["message"]


def test_human_format_shows_source_and_summary() -> None:
    code, out, err = cli("lint", FLAWED, "--select", "CAI201")
    assert code == 1 and out == ""
    assert "flawed.cai:66:7: warning[CAI201]" in err
    assert "must never reveal" in err and "^" in err
    assert "1 warning in 1 file" in err


def test_explain_covers_every_rule() -> None:
    from caic.compiler.lint.registry import all_rules

    for r in all_rules():
        code, out, _ = cli("explain", r.code)
        assert code == 0 and r.name in out and "Anti-pattern" in out and "Best practice" in out
    code, out, _ = cli("explain", "near-duplicate")
    assert code == 0 and out.startswith("CAI102 near-duplicate")


def test_list_rules() -> None:
    code, out, _ = cli("lint", "--list-rules")
    assert code == 0 and "CAI101  contradiction" in out


def test_deep_skips_cleanly_without_a_backend(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import caic.training.lint_job as job

    monkeypatch.setattr(job, "_deep_backend", lambda judge, say: None)
    code, _, _ = cli("lint", write(tmp_path, CLEAN), "--deep")
    assert code == 0


def test_deep_asks_the_backend(tmp_path: Path) -> None:
    from caic.compiler.lint.config import LintConfig
    from caic.compiler.lint.engine import lint
    from caic.constitution_lang import load

    class Judge:
        calls: list[int] = []

        def score_options(
            self,
            prompts: list[list[dict[str, str]]],
            options: list[str],
            assistant_prefix: str = "",
        ) -> list[list[float]]:
            assert options == ["Yes", "No"]
            self.calls.append(len(prompts))
            return [[-0.1, -3.0] for _ in prompts]

    text = CLEAN.replace(
        'principle useful { judge "Choose the response that a helpful expert would give." }',
        'principle useful { judge "Choose the response that a helpful expert would give." }'
        '\n    principle careful { judge "Choose the response '
        'that is more useful to the user while being cautious." }',
    )
    judge = Judge()
    found = lint(
        load(write(tmp_path, text)), LintConfig(select=frozenset({"CAI101"})), deep_backend=judge
    )
    assert judge.calls and any("deep" in d.message for d in found)


def test_lint_leaves_the_process_as_it_found_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """``caic lint`` pauses the garbage collector and limits BLAS to one thread while it
    works (speed), and restores both afterwards: in-process callers keep their settings.
    During the run the collector really is off."""
    import gc

    from threadpoolctl import threadpool_info

    from caic.compiler.lint import engine

    blas_before = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    seen: list[tuple[bool, list[int]]] = []
    real = engine._lint

    def spy(*args: object, **kw: object) -> object:
        blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
        seen.append((gc.isenabled(), blas))
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_lint", spy)
    assert gc.isenabled()
    code, _, _ = cli("lint", HHH)
    assert code == 0
    assert seen and seen[0][0] is False and all(n == 1 for n in seen[0][1])
    assert gc.isenabled()
    assert [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"] == blas_before
    gc.disable()
    try:  # a caller that turned the collector off keeps it off
        assert cli("lint", HHH)[0] == 0
        assert not gc.isenabled()
    finally:
        gc.enable()
