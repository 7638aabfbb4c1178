"""The command line for the language: exit codes, JSON output, fmt, compile, import, explain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_compile import FILES as PROMPTSET_FILES

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


def caic(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "caic", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_version() -> None:
    r = caic("--version")
    assert r.returncode == 0 and r.stdout.startswith("caic ")


def test_check_exit_codes() -> None:
    assert caic("check", str(DATA / "valid" / "design_example.cai")).returncode == 0
    bad = caic("check", str(DATA / "invalid" / "many_errors.cai"))
    assert bad.returncode == 1
    assert bad.stderr.count("error[") == 6
    assert "Traceback" not in bad.stderr
    missing = caic("check", str(DATA / "nope.cai"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert caic("check").returncode == 2  # usage


def test_check_human_output_has_caret_and_hint() -> None:
    r = caic("check", str(DATA / "invalid" / "unknown_placeholder.cai"))
    lines = r.stderr.splitlines()
    assert lines[0].endswith(
        "error[E108] template `critique` uses unknown placeholder `{{ critiq }}`"
    )
    assert ":6:26:" in lines[0]
    assert lines[3].strip().startswith("|") and "^^^^^^" in lines[3]
    assert "hint:" in lines[4]


def test_check_json_output() -> None:
    r = caic("check", "--format", "json", str(DATA / "invalid" / "kind_field_tension.cai"))
    assert r.returncode == 1
    items = json.loads(r.stdout)
    assert len(items) == 4
    for item in items:
        assert {"code", "severity", "message", "path", "line", "column"} <= set(item)
        assert item["severity"] == "error"
    assert [i["code"] for i in items] == ["E118", "E117", "E115", "E116"]


def test_not_utf8_and_empty_are_clean_errors() -> None:
    for name, code in (("not_utf8", "E001"), ("empty", "E002")):
        r = caic("check", str(DATA / "invalid" / f"{name}.cai"))
        assert r.returncode == 1 and code in r.stderr and "Traceback" not in r.stderr


def test_debug_env_shows_traceback() -> None:
    args = ("compile", str(DATA / "valid" / "one_line.cai"), "--prompts", str(DATA / "nope.jsonl"))
    quiet = caic(*args)
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    loud = caic(*args, env={"CAIC_DEBUG": "1"})
    assert loud.returncode != 0 and "Traceback" in loud.stderr


def test_fmt_check_and_rewrite(tmp_path: Path) -> None:
    f = tmp_path / "c.cai"
    f.write_text('constitution "x" { category a { principle p { judge "j" } } }  # end\n')
    r = caic("fmt", "--check", str(f))
    assert r.returncode == 1 and "+++" in r.stdout and "(formatted)" in r.stdout
    assert caic("fmt", str(f)).returncode == 0
    assert caic("fmt", "--check", str(f)).returncode == 0
    assert "# end" in f.read_text()


def test_compile_writes_promptset_and_jobs(tmp_path: Path) -> None:
    out = tmp_path / "ps"
    r = caic(
        "compile",
        str(ROOT / "constitutions" / "hhh-v2.cai"),
        "-o",
        str(out),
        "--prompts",
        str(DATA / "prompts_small.jsonl"),
        "--pairs",
        str(DATA / "pairs_mixed.jsonl"),
        "--rounds",
        "2",
        "--seed",
        "3",
    )
    assert r.returncode == 0, r.stderr
    man = json.loads((out / "manifest.json").read_text())
    assert set(man["files"]) == set(PROMPTSET_FILES) - {"manifest.json"}
    jobs = [json.loads(x) for x in (out / "sl_cai_jobs.jsonl").read_text().splitlines()]
    assert len(jobs) == 3 and all(len(j["principles"]) == 2 for j in jobs)
    assert man["seed"] == 3


def test_compile_bad_data_row_is_file_line(tmp_path: Path) -> None:
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"prompt": "a"}\nnot json\n')
    out = tmp_path / "ps"
    r = caic("compile", str(DATA / "valid" / "one_line.cai"), "-o", str(out), "--prompts", str(bad))
    assert r.returncode == 2
    assert f"{bad}:2:" in r.stderr
    assert not out.exists()


def test_compile_of_invalid_file_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "ps"
    r = caic("compile", str(DATA / "invalid" / "priority_cycle.cai"), "-o", str(out))
    assert r.returncode == 1 and not out.exists()


def test_import_both_shapes(tmp_path: Path) -> None:
    mapping = tmp_path / "m.json"
    mapping.write_text(
        json.dumps(
            {
                "harmful0": {
                    "prompt": ["Identify ways the reply is harmful."],
                    "edit_request": "Rewrite it to remove the harm.",
                },
                "Harmful 1": {
                    "prompt": ["Point out anything unkind."],
                    "edit_request": "Make it kind.",
                },
            }
        )
    )
    r = caic("import", str(mapping), "-o", str(tmp_path / "m.cai"))
    assert r.returncode == 0, r.stderr
    assert caic("check", str(tmp_path / "m.cai")).returncode == 0
    text = (tmp_path / "m.cai").read_text()
    assert "principle harmful0" in text and "principle harmful-1" in text
    lst = tmp_path / "l.json"
    lst.write_text(json.dumps([{"critic": "Find bias.", "revision": "Remove bias."}]))
    r = caic("import", str(lst))
    assert r.returncode == 0 and 'critique "Find bias."' in r.stdout
    bad = tmp_path / "bad.json"
    bad.write_text('[{"critic": 1')
    r = caic("import", str(bad))
    assert r.returncode == 2 and "malformed JSON" in r.stderr


def test_explain() -> None:
    r = caic("explain", "E104")
    assert r.returncode == 0 and "Bad:" in r.stdout and "Good:" in r.stdout
    assert caic("explain", "priority-cycle").returncode == 0
    assert caic("explain", "E999").returncode == 2


@pytest.mark.parametrize("cmd", ["check", "fmt", "compile", "import", "explain"])
def test_help_ends_with_an_example(cmd: str) -> None:
    r = caic(cmd, "--help")
    assert r.returncode == 0 and "Example" in r.stdout
