"""The shipped constitutions: the flawed demo triggers the rules its comments name, the good
ones lint clean, and the 2022 baseline reports the sycophancy gap it documents."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from caic.compiler.lint.engine import lint
from caic.constitution_lang import load
from caic.errors import Diagnostic

ROOT = Path(__file__).parent.parent / "constitutions"


pytestmark = pytest.mark.usefixtures("lint_cache")


def findings(name: str) -> list[Diagnostic]:
    return lint(load(ROOT / name))


def test_flawed_triggers_every_rule_it_was_written_for() -> None:
    found = findings("flawed.cai")
    by_name = Counter(d.name for d in found)
    # One FLAW comment per concern in flawed.cai; each maps to one rule.
    expected = {
        "missing-helpfulness",
        "missing-jailbreak",
        "missing-sycophancy",
        "uncovered-hazard",
        "unordered-priority",
        "near-duplicate",
        "absolute-judge",
        "too-specific",
        "jurisdiction-specific",
        "style-in-harm-category",
        "skewed-weight",
        "critique-revision-mismatch",
        "contradiction",
    }
    assert set(by_name) == expected
    assert all(d.severity == "warning" for d in found)

    def involving(rule: str) -> set[tuple[str, ...]]:
        return {d.principles for d in found if d.name == rule}

    # The planted pairs are found. The shipped pair encoder also flags two pairs among
    # the four principles planted to conflict (docs/benchmarks.md, "Known false positives"):
    # agree-with-user / briefest and correct-the-user / briefest (near-duplicate); the
    # bound allows one more, as a retrained model moves such borderline pairs.
    planted = {
        "contradiction": {("correct-the-user", "agree-with-user"), ("briefest", "most-thorough")},
        "near-duplicate": {("weapons-one", "weapons-two")},
    }
    for rule, pairs in planted.items():
        assert pairs <= involving(rule)
    extra = (involving("contradiction") | involving("near-duplicate")) - set().union(
        *planted.values()
    )
    assert len(extra) <= 3
    assert involving("absolute-judge") == {("no-addresses",)}
    assert involving("too-specific") == {("civic-door",)}
    assert involving("jurisdiction-specific") == {("texas-law",)}
    assert involving("style-in-harm-category") == {("friendly-bullets",)}
    assert involving("skewed-weight") == {("rare-check",)}
    assert involving("critique-revision-mismatch") == {("medical-accuracy",)}
    hazards = next(d for d in found if d.name == "uncovered-hazard").message
    for h in (
        "violent_crime",
        "sex_crime",
        "child_exploitation",
        "self_harm",
        "hate",
        "intellectual_property",
        "defamation",
        "sexual_content",
    ):
        assert h in hazards
    for covered in ("indiscriminate_weapons", "nonviolent_crime", "specialized_advice"):
        assert covered not in hazards
    unordered = " ".join(d.message for d in found if d.name == "unordered-priority")
    for cat in ("safety", "accuracy", "rapport", "brevity", "coverage"):
        assert f"`{cat}`" in unordered or cat in unordered


def test_hhh_v2_lints_clean() -> None:
    found = findings("hhh-v2.cai")
    assert [d for d in found if d.severity != "note"] == []


def test_cai_2022_reports_its_documented_sycophancy_gap() -> None:
    found = findings("cai-2022-harmless.cai")
    assert "missing-sycophancy" in {d.name for d in found}
    # A faithful 2022 baseline: no helpfulness, jailbreak, hazard or structure findings.
    assert {d.name for d in found} <= {"missing-sycophancy", "near-duplicate", "contradiction"}


@pytest.mark.parametrize("name", ["modular/base.cai", "modular/assistant.cai"])
def test_modular_pair_only_reports_coverage_gaps(name: str) -> None:
    # The compact shared base covers six hazards and has no sycophancy principle; both
    # are coverage findings by design. Nothing about how its principles are written.
    found = findings(name)
    assert {d.name for d in found} <= {"missing-sycophancy", "uncovered-hazard"}
    assert all(d.line == d.line and d.principles == () for d in found)
