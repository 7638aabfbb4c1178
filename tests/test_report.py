"""``caic report``: paired tests, deltas, flips, constitution diffs, gates and the outputs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import cli, two_runs, write_run
from report_fixtures import samples as fixture_samples

from caic.compiler.diff import diff
from caic.constitution_lang import load
from caic.constitutions import find
from caic.evals.report import build_report, load_run, unique_labels
from caic.evals.report.render import render_html, render_markdown
from caic.evals.stats import mcnemar_exact, paired_bootstrap, paired_permutation


def caic(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "caic", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "CAIC_DEBUG": ""},
        timeout=300,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return two_runs(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def report(runs: tuple[Path, Path]) -> dict[str, Any]:
    return build_report([load_run(runs[0]), load_run(runs[1])])


def metric(report: dict[str, Any], key: str) -> dict[str, Any]:
    return next(m for m in report["metrics"] if m["key"] == key)


# ---------------------------------------------------------------------------- statistics


@pytest.mark.parametrize(
    "b,c",
    [(0, 0), (0, 1), (1, 1), (16, 0), (3, 10), (10, 3), (7, 7), (25, 40), (0, 18), (150, 110)],
)
def test_mcnemar_matches_scipy(b: int, c: int) -> None:
    from scipy.stats import binomtest

    expected = 1.0 if b + c == 0 else binomtest(b, b + c, 0.5).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_mcnemar_on_a_constructed_table() -> None:
    """2×2 table of paired outcomes: only the discordant cells enter the test."""
    from scipy.stats import binomtest

    # baseline yes/run yes 30, yes/no 12, no/yes 3, no/no 55
    table = {(1, 1): 30, (1, 0): 12, (0, 1): 3, (0, 0): 55}
    p = mcnemar_exact(table[(1, 0)], table[(0, 1)])
    assert p == pytest.approx(binomtest(3, 15, 0.5).pvalue)
    assert p == pytest.approx(2 * sum(__import__("math").comb(15, i) for i in range(4)) / 2**15)
    assert p < 0.05
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def test_paired_bootstrap_is_seeded_and_sensible() -> None:
    a = [0.1, 0.4, 0.35, 0.8, 0.2, 0.55, 0.3, 0.6, 0.45, 0.5] * 3
    b = [x + 0.2 for x in a]
    one, two = paired_bootstrap(a, b, seed=5), paired_bootstrap(a, b, seed=5)
    assert one == two
    assert one.delta == pytest.approx(0.2)
    assert one.p_value < 0.01 and one.ci_low == pytest.approx(0.2) == pytest.approx(one.ci_high)
    noisy = [x + (0.3 if i % 2 else -0.3) for i, x in enumerate(a)]
    res = paired_bootstrap(a, noisy, seed=1)
    assert res.p_value > 0.5 and res.ci_low < 0 < res.ci_high
    assert paired_bootstrap(a, a).p_value == 1.0
    assert paired_bootstrap(a, noisy, seed=2) != res  # the seed matters


def test_paired_permutation_is_exact_for_small_samples() -> None:
    import numpy as np
    from scipy.stats import permutation_test

    assert paired_permutation([0.0] * 6, [1.0] * 6) == pytest.approx(2 / 64)
    assert paired_permutation([0.3, 0.5], [0.3, 0.5]) == 1.0
    rng = np.random.default_rng(4)
    a, b = rng.random(9), rng.random(9) + 0.3
    ref = permutation_test(
        (a, b),
        lambda x, y, axis: np.mean(y - x, axis=axis),
        permutation_type="samples",
        n_resamples=np.inf,
        vectorized=True,
    ).pvalue
    assert paired_permutation(a.tolist(), b.tolist()) == pytest.approx(ref)
    # a statistic that is not a mean: the pairs are swapped and the statistic recomputed
    p = paired_permutation(a.tolist(), b.tolist(), stat=lambda v: float(np.median(v)))
    assert 0 < p <= 1
    # more patterns than resamples: seeded Monte Carlo
    big_a, big_b = [0.0] * 30, [1.0] * 30
    assert paired_permutation(big_a, big_b, seed=1) == paired_permutation(big_a, big_b, seed=1)
    assert paired_permutation(big_a, big_b) == pytest.approx(1 / 2001)


# --------------------------------------------------------------------------------- report


def test_metrics_side_by_side_with_paired_tests(report: dict[str, Any]) -> None:
    from scipy.stats import binomtest

    assert report["baseline"] == "v1" and [r["label"] for r in report["runs"]] == ["v1", "v2"]
    hm = metric(report, "harmlessness.harmful_compliance_rate")
    assert hm["runs"]["v1"]["value"] == 0.5 and hm["runs"]["v2"]["value"] == 0.1
    assert hm["runs"]["v1"]["ci_low"] < 0.5 < hm["runs"]["v1"]["ci_high"]
    comp = hm["comparisons"]["v2"]
    assert comp["delta"] == pytest.approx(-0.4)
    t = comp["test"]
    assert t["method"] == "mcnemar-exact" and t["n_shared"] == 40
    assert t["discordant"] == {"baseline_only": 16, "run_only": 0}
    assert t["p_value"] == pytest.approx(binomtest(0, 16, 0.5).pvalue)
    assert t["direction"] == "better" and t["significant"]
    assert comp["verdict"] == "v2 complies with harmful requests less often than v1 (p < 0.001)"

    orr = metric(report, "over_refusal.over_refusal_rate")["comparisons"]["v2"]
    assert orr["test"]["discordant"] == {"baseline_only": 0, "run_only": 18}
    assert "on safe prompts" in orr["test"]["backed_by"] and orr["test"]["n_shared"] == 30
    assert orr["verdict"] == "v2 refuses safe prompts more often than v1 (p < 0.001)"
    assert orr["test"]["direction"] == "worse"
    full = metric(report, "over_refusal.full_refusal_rate")["comparisons"]["v2"]
    assert full["test"]["p_value"] == pytest.approx(2 / 2**8)
    assert full["verdict"] == "v2 fully refuses safe prompts more often than v1 (p = 0.008)"

    syc = metric(report, "sycophancy.flip_rate")["comparisons"]["v2"]
    assert syc["test"]["n_shared"] == 16 and syc["test"]["p_value"] == 1.0
    assert syc["verdict"] == "no significant difference (p = 1.000)"
    acc = metric(report, "label_agreement.accuracy")["comparisons"]["v2"]
    assert acc["test"]["discordant"] == {"baseline_only": 2, "run_only": 2}
    assert not acc["test"]["significant"]
    kappa = metric(report, "label_agreement.kappa")["comparisons"]["v2"]["test"]
    assert kappa["method"] == "paired-bootstrap" and kappa["backed_by"].startswith("Cohen's κ")
    assert kappa["delta_shared"] == pytest.approx(0.0) and kappa["p_value"] == 1.0
    drop = metric(report, "sycophancy.accuracy_drop")["comparisons"]["v2"]["test"]
    assert drop["method"] == "paired-bootstrap" and drop["backed_by"] == "scores.accuracy_drop"
    assert drop["delta_shared"] == pytest.approx(-0.2) and drop["ci_high"] < 0
    assert drop["direction"] == "better" and drop["significant"]
    brier = metric(report, "label_agreement.brier")["comparisons"]["v2"]
    assert brier["test"]["method"] == "paired-bootstrap"
    assert brier["test"]["backed_by"] == "(1 − scores.p_chosen)²"


def test_bootstrap_in_the_report_is_reproducible(runs: tuple[Path, Path]) -> None:
    def p(seed: int) -> float:
        rep = build_report([load_run(r) for r in runs], seed=seed, resamples=500)
        return float(metric(rep, "label_agreement.brier")["comparisons"]["v2"]["test"]["p_value"])

    assert p(3) == p(3)


def test_small_samples_use_the_permutation_test(tmp_path: Path) -> None:
    def few(version: int) -> list[dict[str, Any]]:
        return [s for s in fixture_samples(version) if s["suite"] == "label_agreement"][:8]

    v1 = write_run(tmp_path / "a", few(1), "cai-2022-harmless")
    v2 = write_run(tmp_path / "b", few(2), "hhh-v2")
    rep = build_report([load_run(v1), load_run(v2)])
    t = metric(rep, "label_agreement.brier")["comparisons"]["b"]["test"]
    assert t["method"] == "paired-permutation" and t["n_shared"] == 8
    # items 0, 1 go from right to wrong; the other six shift by the same small amount
    firsts = [(1 - s["scores"]["p_chosen"]) ** 2 for s in few(1)]
    seconds = [(1 - s["scores"]["p_chosen"]) ** 2 for s in few(2)]
    assert t["p_value"] == pytest.approx(paired_permutation(firsts, seconds))
    assert metric(rep, "label_agreement.accuracy")["comparisons"]["b"]["test"]["method"] == (
        "mcnemar-exact"
    )


def test_unreproducible_metric_gets_no_test(tmp_path: Path) -> None:
    v1, v2 = two_runs(tmp_path)
    man = json.loads((v2 / "manifest.json").read_text())
    man["metrics"]["harmlessness"]["harmful_compliance_rate"]["value"] = 0.123
    (v2 / "manifest.json").write_text(json.dumps(man))
    rep = build_report([load_run(v1), load_run(v2)])
    comp = metric(rep, "harmlessness.harmful_compliance_rate")["comparisons"]["v2"]
    assert comp["test"] is None and comp["delta"] == pytest.approx(0.123 - 0.5)
    assert "no paired test" in comp["verdict"]


def test_per_category_and_flips(report: dict[str, Any]) -> None:
    pc = next(p for p in report["per_category"] if p["key"].startswith("harmlessness"))
    assert pc["categories"] == ["cyber", "hate", "self_harm", "violent_crime"]
    assert pc["runs"]["v1"]["cyber"]["value"] == 1.0 and pc["deltas"]["v2"]["cyber"] == -0.8
    counts = report["flip_counts"]["v2"]
    assert counts["harmlessness"] == {"better": 16, "worse": 0, "changed": 0}
    assert counts["over_refusal"] == {"better": 0, "worse": 18, "changed": 0}
    assert counts["label_agreement"] == {"better": 2, "worse": 2, "changed": 0}
    assert counts["sycophancy"] == {"better": 4, "worse": 0, "changed": 0}
    f = next(x for x in report["flips"] if x["uid"] == "over_refusal:ov-0001")
    assert f["baseline"]["outcome"] == {"refusal_class": "full_compliance"}
    assert f["candidate"]["outcome"] == {"refusal_class": "partial_refusal"}
    assert f["baseline"]["output"] != f["candidate"]["output"]


def test_constitution_diff_is_included(report: dict[str, Any]) -> None:
    (entry,) = report["constitution_diffs"]
    assert entry["status"] == "diff"
    expected = diff(load(find("cai-2022-harmless")), load(find("hhh-v2")))
    assert len(entry["diff"]["changes"]) == len(expected.changes)


def test_constitution_missing_or_changed(tmp_path: Path) -> None:
    text = find("hhh-v2").read_text(encoding="utf-8")
    mine = tmp_path / "mine.cai"
    v1 = write_run(tmp_path / "a", fixture_samples(1), "cai-2022-harmless")
    # A copy of a shipped constitution, edited after the run: the shipped file of the
    # same name still has the run's hash, so the diff uses it.
    mine.write_text(text, encoding="utf-8")
    v2 = write_run(tmp_path / "b", fixture_samples(2), str(mine))
    mine.write_text(text.replace('version "2.0.0"', 'version "2.0.1"'), encoding="utf-8")
    (entry,) = build_report([load_run(v1), load_run(v2)])["constitution_diffs"]
    assert entry["status"] == "diff" and entry["diff"]["new"]["version"] == "2.0.0"
    # A constitution of its own, edited after the run: no file has the run's hash.
    mine.write_text(text.replace('version "2.0.0"', 'version "2.1.0"'), encoding="utf-8")
    v3 = write_run(tmp_path / "c", fixture_samples(2), str(mine))
    mine.write_text(text.replace('version "2.0.0"', 'version "2.2.0"'), encoding="utf-8")
    (entry,) = build_report([load_run(v1), load_run(v3)])["constitution_diffs"]
    assert entry["status"] == "unavailable"
    assert entry["note"].startswith("no file matches the run's constitution sha256")
    man = json.loads((v3 / "manifest.json").read_text())
    man["constitution"].update(name="gone", path=str(tmp_path / "gone.cai"))
    (v3 / "manifest.json").write_text(json.dumps(man))
    (entry,) = build_report([load_run(v1), load_run(v3)])["constitution_diffs"]
    assert entry["status"] == "unavailable" and "not found" in entry["note"]
    same = build_report([load_run(v1), load_run(v1, "again")])
    assert same["constitution_diffs"][0]["status"] == "same"


def test_baseline_choice(runs: tuple[Path, Path]) -> None:
    rep = build_report([load_run(r) for r in runs], baseline=None)
    v2 = load_run(runs[1])
    rev = build_report([load_run(runs[0]), v2], baseline=v2)
    assert rev["baseline"] == "v2"
    a = metric(rep, "harmlessness.harmful_compliance_rate")["comparisons"]["v2"]
    b = metric(rev, "harmlessness.harmful_compliance_rate")["comparisons"]["v1"]
    assert a["delta"] == pytest.approx(-b["delta"])
    assert b["verdict"].startswith("v1 complies with harmful requests more often than v2")


def test_unique_labels(tmp_path: Path) -> None:
    paths = [tmp_path / "x" / "run", tmp_path / "y" / "run", tmp_path / "z"]
    assert unique_labels(paths) == ["x/run", "y/run", "z"]


# ---------------------------------------------------------------------------- outputs


def test_html_is_self_contained(report: dict[str, Any]) -> None:
    html = render_html(report)
    assert html.startswith("<!DOCTYPE html>")
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    assert not re.search(r"\b(src|href)\s*=", html) and "url(" not in html
    assert "@import" not in html
    assert 'id="metrics-table"' in html and '<svg class="plot" id="tradeoff-plot"' in html
    assert 'id="panel-sycophancy"' in html and 'id="panel-label_agreement"' in html
    assert html.count('class="run-point"') == 2
    assert 'id="flips"' in html and "over_refusal:ov-0001" in html
    assert "v2 refuses safe prompts more often than v1 (p &lt; 0.001)" in html
    assert 'id="constitution-diff"' in html and "<del>Harm avoidance in</del>" in html
    assert "setting sampling: uniform → weighted" in html


def test_markdown_for_a_pull_request(report: dict[str, Any]) -> None:
    md = render_markdown(report)
    assert md.startswith("## caic report: `v1` vs `v2` (baseline `v1`)")
    row = next(x for x in md.splitlines() if x.startswith("| harmlessness.harmful_compliance"))
    assert "0.500 [0.352, 0.648]" in row and "| -0.400 | < 0.001 |" in row
    assert "- 🔴 `over_refusal.over_refusal_rate`: v2 refuses safe prompts more often" in md
    assert "<details><summary><b>Flipped items</b> `v1` → `v2`: 42</summary>" in md
    assert "<details><summary><b>Constitution diff</b>" in md
    assert "http" not in md


def test_cli_outputs_and_gates(runs: tuple[Path, Path], tmp_path: Path) -> None:
    v1, v2 = map(str, runs)

    def gated(out: Path, *gates: str) -> tuple[int, str, str]:
        """``caic report v1 v2 --out OUT`` with a ``--fail-on`` per gate."""
        return cli(
            "report", v1, v2, "--out", str(out), *(a for g in gates for a in ("--fail-on", g))
        )

    out = tmp_path / "r.json"
    code, _, err = gated(
        out,
        "over_refusal.full_refusal_rate.delta > 0.05",
        "harmlessness.harmful_compliance_rate > 0.3",
        "label_agreement.accuracy < 0.5",
    )
    assert code == 1, err
    assert "gate failed: over_refusal.full_refusal_rate.delta > 0.05 on v2" in err
    rep = json.loads(out.read_text())
    assert rep["kind"] == "eval-report" and rep["schema_version"] == 1
    gates = {(g["gate"], g["run"]): g["failed"] for g in rep["gates"]}
    assert gates == {
        ("over_refusal.full_refusal_rate.delta > 0.05", "v2"): True,
        ("harmlessness.harmful_compliance_rate > 0.3", "v1"): True,
        ("harmlessness.harmful_compliance_rate > 0.3", "v2"): False,
        ("label_agreement.accuracy < 0.5", "v1"): False,
        ("label_agreement.accuracy < 0.5", "v2"): False,
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]  # no temp files left

    md = tmp_path / "r.md"
    code, _, _ = gated(
        md,
        "harmlessness.harmful_compliance_rate.delta > 0",
        "over_refusal.over_refusal_rate.delta <= 0.7",
    )
    assert code == 1  # the second holds: 0.6 <= 0.7
    code, _, err = gated(md, "harmlessness.harmful_compliance_rate.delta > 0")
    assert code == 0, err
    assert md.read_text().startswith("## caic report")

    code, _, err = cli("report", v1, v2, "--fail-on", "over_refusal.nope.delta > 0")
    assert code == 2
    assert "unknown metric `over_refusal.nope`" in err
    assert "known metrics: harmlessness.harmful_compliance_rate, label_agreement.accuracy" in err
    assert "over_refusal.full_refusal_rate" in err
    code, _, err = cli("report", v1, v2, "--fail-on", "over_refusal.full_refusal_rate ~ 1")
    assert code == 2 and "bad --fail-on expression" in err

    html = tmp_path / "r.html"
    code, _, _ = cli("report", v1, v2, "--baseline", v2, "-o", str(html))
    assert code == 0 and "baseline <b>v2</b>" in html.read_text()
    code, stdout, _ = cli("report", v1, v2)
    assert code == 0 and stdout.startswith("## caic report: `v1` vs `v2` (baseline `v1`)")
    code, stdout, _ = cli("report", v2, "--baseline", v1)  # a baseline outside the list
    assert code == 0 and stdout.startswith("## caic report: `v1` vs `v2` (baseline `v1`)")
    assert cli("report", v1, v2, "-o", str(tmp_path / "r.pdf"))[0] == 2


def test_bad_run_dirs_are_usage_errors(tmp_path: Path, runs: tuple[Path, Path]) -> None:
    r = caic("report", str(tmp_path))
    assert r.returncode == 2 and "not an eval run directory" in r.stderr
    assert "Traceback" not in r.stderr
    broken = write_run(tmp_path / "broken", fixture_samples(1))
    with open(broken / "samples.jsonl", "a") as f:
        f.write("{not json\n")
    code, _, err = cli("report", str(broken))
    assert code == 2 and re.search(r"samples\.jsonl:121:\d+: error\[E005\]", err)
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text('{"kind": "promptset", "schema_version": 1}')
    code, _, err = cli("report", str(other))
    assert code == 2 and "kind is not `eval-run`" in err
    (other / "manifest.json").write_text('{"kind": "eval-run", "schema_version": 7}')
    code, _, err = cli("report", str(other))
    assert code == 2 and "unsupported eval run schema_version 7" in err
