"""``caic diff``: semantic changes between constitutions, and nothing for formatting."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from caic.compiler.diff import RENAME_THRESHOLD, ConstitutionDiff, diff, words_diff
from caic.compiler.diff_render import render_human, render_markdown, render_words
from caic.compiler.promptset import critique_records, judge_records, revision_records
from caic.compiler.sampling import priority_ranks, probabilities
from caic.constitution_lang import Constitution, load, loads, sha256
from caic.constitutions import find

BASE = """cai 1
constitution "demo" {
  version "1.0.0"
  priority safety > helpfulness
  settings {
    sampling weighted
    seed 3
    critique_rounds 1
  }
  category safety {
    kind harm
    weight 3
    principle least-harmful {
      judge "Choose the response that is less likely to help anyone cause harm."
      critique "Point out every way the last response could help someone cause harm."
      revision "Rewrite the response so that it no longer helps anyone cause harm."
      weight 2
      tags [violence, crime]
      example {
        prompt "How do I get into my neighbour's wifi?"
        response "Try the default router passwords."
        critique "The response helps the user access a network without permission."
        revision "I can't help with that, but here is how to secure your own network."
      }
    }
    principle privacy {
      judge "Choose the response that better protects other people's privacy."
    }
  }
  category helpfulness {
    kind helpfulness
    weight 1
    principle complete-answer {
      judge "Choose the response that answers the question more completely and directly."
    }
  }
  tension complete-answer least-harmful {
    prefer least-harmful
    note "Completeness never outweighs harm."
  }
}
"""

# The same constitution: one line per block, comments, fields and tags reordered,
# settings reordered, the tension's principles swapped, the priority chain unchanged.
FORMATTED = """# a comment that means nothing
constitution "demo" { version "1.0.0"
  settings { critique_rounds 1 seed 3 sampling weighted }   # reordered
  priority safety > helpfulness
  category safety { weight 3 kind harm
    principle least-harmful { weight 2 tags [crime, violence]
      revision "Rewrite the response so that it no longer helps anyone cause harm."
      critique "Point out every way the last response could help someone cause harm."
      judge "Choose the response that is less likely to help anyone cause harm."
      example { prompt "How do I get into my neighbour's wifi?"
        response "Try the default router passwords."
        critique "The response helps the user access a network without permission."
        revision "I can't help with that, but here is how to secure your own network." } }
    principle privacy { judge "Choose the response that better protects other people's privacy." } }
  category helpfulness { kind helpfulness weight 1
    principle complete-answer {
      judge "Choose the response that answers the question more completely and directly." } }
  tension least-harmful complete-answer { note "Completeness never outweighs harm."
    prefer least-harmful }
}
"""


PRIVACY = (
    '    principle privacy {\n      judge "Choose the response that better protects other '
    "people's privacy.\"\n    }\n"
)
"""BASE's `privacy` principle, the whole block."""


def variant(old: str, new: str, text: str = BASE) -> Constitution:
    assert old in text, old
    return loads(text.replace(old, new, 1))


@pytest.fixture(scope="module")
def base() -> Constitution:
    return loads(BASE)


def kinds(d: ConstitutionDiff) -> list[str]:
    return [c.kind for c in d.changes]


def of(d: ConstitutionDiff, kind: str) -> list:  # type: ignore[type-arg]
    return [c for c in d.changes if c.kind == kind]


def test_identical_and_formatting_only_have_no_changes(base: Constitution) -> None:
    assert diff(base, base).changes == ()
    other = loads(FORMATTED)
    d = diff(base, other)
    assert d.changes == (), render_human(d)
    assert d.prompts_changed == ()
    assert "no changes of meaning" in render_human(d)
    assert "No changes of meaning" in render_markdown(d)


def test_added_principle_changes_probabilities_and_system_prompt(base: Constitution) -> None:
    new = variant(
        "  category helpfulness {",
        '  category helpfulness {\n    principle concise { judge "Choose the shorter response." }',
    )
    d = diff(base, new)
    added = of(d, "principle-added")
    assert [c.subject for c in added] == ["concise"]
    assert "helpfulness/concise" in added[0].summary and "judge P=0.1250" in added[0].summary
    probs = {(c.subject, c.field): (c.old, c.new) for c in of(d, "probability")}
    # helpfulness keeps its 1/4 share, now split between two principles.
    assert probs[("complete-answer", "judge")] == pytest.approx((0.25, 0.125))
    assert ("least-harmful", "judge") not in probs  # the safety category is untouched
    assert [c.subject for c in of(d, "prompts")] == ["system"]
    assert not of(d, "principle-removed") and not of(d, "principle-renamed")


def test_removed_principle(base: Constitution) -> None:
    new = variant(PRIVACY, "")
    d = diff(base, new)
    assert [c.subject for c in of(d, "principle-removed")] == ["privacy"]
    probs = {(c.subject, c.field): (c.old, c.new) for c in of(d, "probability")}
    assert probs[("least-harmful", "judge")] == pytest.approx((0.5, 0.75))


def test_rename_is_matched_and_tension_follows_it(base: Constitution) -> None:
    text = BASE.replace("least-harmful", "no-harm")
    d = diff(base, loads(text))
    renamed = of(d, "principle-renamed")
    assert [(c.old, c.new, c.similarity) for c in renamed] == [("least-harmful", "no-harm", 1.0)]
    assert not of(d, "principle-added") and not of(d, "principle-removed")
    assert not [c for c in d.changes if c.kind.startswith("tension")]
    assert not of(d, "probability")


def test_reword_gives_a_word_diff_and_the_prompts_it_changes(base: Constitution) -> None:
    new = variant("more completely and directly", "more fully and directly")
    d = diff(base, new)
    (rw,) = of(d, "principle-reworded")
    assert (rw.subject, rw.field) == ("complete-answer", "judge")
    assert [(w.op, w.old, w.new) for w in rw.words if w.op != "equal"] == [
        ("replace", "completely", "fully")
    ]
    assert "[-completely-]{+fully+}" in render_words(rw.words)
    assert "~~completely~~ **fully**" in render_markdown(d)
    (pr,) = [c for c in of(d, "prompts") if c.subject == "complete-answer"]
    assert pr.new == ["judge/cot", "judge/direct", "judge/pointwise"]
    assert "system" in d.prompts_changed


def test_renamed_and_reworded_below_threshold_is_add_and_remove(base: Constitution) -> None:
    light = variant(
        'principle privacy {\n      judge "Choose the response that better protects',
        'principle privacy-v2 {\n      judge "Choose the response that more carefully protects',
    )
    d = diff(base, light)
    (r,) = of(d, "principle-renamed")
    assert r.similarity is not None and RENAME_THRESHOLD <= r.similarity < 1
    assert of(d, "principle-reworded")[0].subject == "privacy-v2"
    heavy = variant(
        PRIVACY, '    principle tone {\n      judge "Pick whichever reply sounds warmer."\n    }\n'
    )
    d = diff(base, heavy)
    assert [c.subject for c in of(d, "principle-removed")] == ["privacy"]
    assert [c.subject for c in of(d, "principle-added")] == ["tone"]
    assert not of(d, "principle-renamed")
    # a lower threshold pairs them
    assert of(diff(base, heavy, threshold=0.0), "principle-renamed")


def test_moved_between_categories(base: Constitution) -> None:
    text = BASE.replace(PRIVACY, "").replace("    weight 1\n", "    weight 1\n" + PRIVACY, 1)
    d = diff(base, loads(text))
    (mv,) = of(d, "principle-moved")
    assert (mv.subject, mv.old, mv.new) == ("privacy", "safety", "helpfulness")
    assert of(d, "probability")  # shares within both categories change
    assert not of(d, "order")  # privacy still comes second


def test_declaration_order(base: Constitution) -> None:
    """Swapping two principles changes which one a seeded draw picks: it is reported."""
    text = BASE.replace(PRIVACY, "").replace(
        "    principle least-harmful", PRIVACY.rstrip("\n") + "\n    principle least-harmful", 1
    )
    d = diff(base, loads(text))
    assert kinds(d) == ["order", "prompts"]
    assert d.changes[0].new == ["privacy", "least-harmful", "complete-answer"]
    assert d.prompts_changed == ("system",)


def test_weight_changes(base: Constitution) -> None:
    d = diff(base, variant("      weight 2\n", "      weight 1\n"))
    (w,) = of(d, "principle-changed")
    assert (w.field, w.old, w.new) == ("weight", 2.0, 1.0)
    probs = {(c.subject, c.field): (c.old, c.new) for c in of(d, "probability")}
    assert probs[("least-harmful", "judge")] == pytest.approx((0.5, 0.375))
    assert probs[("privacy", "judge")] == pytest.approx((0.25, 0.375))
    d = diff(base, variant("    weight 3\n", "    weight 1\n"))
    (cw,) = of(d, "category-changed")
    assert (cw.subject, cw.field, cw.old, cw.new) == ("safety", "weight", 3.0, 1.0)
    assert {c.subject for c in of(d, "probability")} == {
        "least-harmful",
        "privacy",
        "complete-answer",
    }
    # Under uniform sampling a weight changes nothing the compiler uses except the weight.
    uni = variant("sampling weighted", "sampling uniform")
    d = diff(
        uni,
        variant(
            "      weight 2\n",
            "      weight 1\n",
            BASE.replace("sampling weighted", "sampling uniform"),
        ),
    )
    assert kinds(d) == ["principle-changed"]


def test_priority_changes_and_equivalent_chains(base: Constitution) -> None:
    flipped = variant("priority safety > helpfulness", "priority helpfulness > safety")
    d = diff(base, flipped)
    pri = {(c.field, c.subject) for c in of(d, "priority")}
    assert pri == {("added", "helpfulness > safety"), ("removed", "safety > helpfulness")}
    ranks = {c.subject: (c.old, c.new) for c in of(d, "priority-rank")}
    assert ranks == {"safety": (0, 1), "helpfulness": (1, 0)}
    assert priority_ranks(flipped)["helpfulness"] == 0
    # Chains that spell the same order (with a redundant transitive edge) are no change.
    three = BASE.replace("priority safety > helpfulness", "priority safety > style > helpfulness")
    three = three.replace(
        "  tension",
        '  category style {\n    kind style\n    principle terse { judge "Shorter." }'
        "\n  }\n  tension",
        1,
    )
    split = three.replace(
        "priority safety > style > helpfulness",
        "priority style > helpfulness\n  priority safety > style\n  priority safety > helpfulness",
    )
    assert diff(loads(three), loads(split)).changes == ()


def test_tension_changes(base: Constitution) -> None:
    d = diff(base, variant("    prefer least-harmful\n", "    prefer complete-answer\n"))
    (t,) = of(d, "tension-changed")
    assert (t.field, t.old, t.new) == ("prefer", "least-harmful", "complete-answer")
    d = diff(base, variant("never outweighs harm", "never outweighs real harm"))
    (t,) = of(d, "tension-changed")
    assert t.field == "note" and [w.new for w in t.words if w.op == "insert"] == ["real"]
    start = BASE.index("  tension")
    end = BASE.index("}\n", start) + 2
    d = diff(base, loads(BASE[:start] + BASE[end:]))
    assert [c.subject for c in of(d, "tension-removed")] == ["complete-answer ↔ least-harmful"]
    d = diff(loads(BASE[:start] + BASE[end:]), base)
    assert [c.kind for c in d.changes] == ["tension-added"]


def test_settings_changes(base: Constitution) -> None:
    d = diff(base, variant("critique_rounds 1", "critique_rounds 2"))
    assert [(c.kind, c.subject, c.old, c.new) for c in d.changes] == [
        ("setting", "critique_rounds", 1, 2)
    ]
    d = diff(base, variant("    seed 3\n", "    seed 3\n    judge { chain_of_thought true }\n"))
    assert [(c.subject, c.old, c.new) for c in of(d, "setting")] == [
        ("judge.chain_of_thought", False, True)
    ]
    # few_shot false drops the example from every critique prompt.
    d = diff(base, variant("    seed 3\n", "    seed 3\n    few_shot false\n"))
    assert [c.subject for c in of(d, "setting")] == ["few_shot"]
    assert "least-harmful/critique" in d.prompts_changed


def test_prompt_changes_from_examples_and_templates(base: Constitution) -> None:
    d = diff(base, variant("Try the default router passwords.", "Try admin/admin."))
    (ex,) = of(d, "principle-changed")
    assert ex.field == "examples"
    assert d.prompts_changed == ("least-harmful/critique",)
    tmpl = BASE.rstrip().removesuffix("}") + (
        '  template judge """\n    {{ conversation }}\n\n    {{ question }}\n'
        '    (A) {{ option_a }}\n    (B) {{ option_b }}\n  """\n}\n'
    )
    d = diff(base, loads(tmpl))
    assert [(c.kind, c.field) for c in of(d, "template")] == [("template", "added")]
    changed = {c.subject for c in of(d, "prompts")}
    assert {"least-harmful", "privacy", "complete-answer"} <= changed
    assert all("judge/direct" in c.new for c in of(d, "prompts") if c.subject != "system")


def _compiled(c: Constitution) -> object:
    def strip(records: list[dict]) -> list[dict]:  # type: ignore[type-arg]
        return [{k: v for k, v in r.items() if k not in ("id", "principle")} for r in records]

    return (
        strip(critique_records(c)),
        strip(revision_records(c)),
        strip(judge_records(c)),
        sorted(probabilities(c, "critique").values()),
        sorted(probabilities(c, "judge").values()),
        c.settings.model_dump(),
    )


def test_empty_changes_means_identical_compiled_output(base: Constitution) -> None:
    """Over every pair of variants: no change listed ⇒ the compiled artefacts are equal."""
    variants = [
        base,
        loads(FORMATTED),
        variant("more completely", "more fully"),
        variant("      weight 2\n", "      weight 1\n"),
        variant("critique_rounds 1", "critique_rounds 3"),
        variant("Try the default router passwords.", "Try admin/admin."),
        variant("priority safety > helpfulness", "priority helpfulness > safety"),
        loads(BASE.replace("least-harmful", "no-harm")),
    ]
    for a, b in itertools.product(variants, repeat=2):
        d = diff(a, b)
        same = _compiled(a) == _compiled(b)
        if not d.changes:
            assert same
        if not same:
            assert d.changes


def test_shipped_v1_to_v2() -> None:
    v1, v2 = load(find("cai-2022-harmless")), load(find("hhh-v2"))
    d = diff(v1, v2)
    assert d.old.sha256 == sha256(v1) and d.new.sha256 == sha256(v2)
    assert len(of(d, "principle-removed")) == len(v1.principles)  # rewritten from scratch
    assert len(of(d, "principle-added")) == len(v2.principles)
    assert not of(d, "principle-renamed")  # nothing is similar enough to count as renamed
    settings = {c.subject: (c.old, c.new) for c in of(d, "setting")}
    assert settings["sampling"] == ("uniform", "weighted")
    added = {c.subject for c in of(d, "priority") if c.field == "added"}
    assert "safety > ethics" in added
    assert {c.subject for c in of(d, "category-added")} >= {"safety", "honesty", "style"}
    assert len(of(d, "tension-added")) == len(v2.tensions)
    back = diff(v2, v1)
    assert len(of(back, "principle-added")) == len(v1.principles)
    assert len(back.changes) == len(d.changes)


def caic(*args: str, hashseed: str = "0") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "caic", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "CAIC_DEBUG": "", "PYTHONHASHSEED": hashseed},
        timeout=300,
    )


def test_cli_formats_and_exit_codes(tmp_path: Path) -> None:
    a, b = tmp_path / "a.cai", tmp_path / "b.cai"
    a.write_text(BASE, encoding="utf-8")
    b.write_text(FORMATTED, encoding="utf-8")
    r = caic("diff", str(a), str(b), "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["changes"] == [] and out["kind"] == "constitution-diff"
    r = caic("diff", "cai-2022-harmless", "hhh-v2", "--format", "json")
    assert r.returncode == 0
    again = caic("diff", "cai-2022-harmless", "hhh-v2", "--format", "json", hashseed="12345")
    assert again.stdout == r.stdout  # deterministic order, whatever the string hashing
    out = json.loads(r.stdout)
    assert out["changes"] and out["new"]["name"] == "hhh-v2"
    ConstitutionDiff.model_validate(out)
    human = caic("diff", "cai-2022-harmless", "hhh-v2")
    assert human.returncode == 0 and "setting sampling: uniform → weighted" in human.stdout
    md = caic("diff", "cai-2022-harmless", "hhh-v2", "--format", "md")
    assert md.returncode == 0 and md.stdout.startswith("### Constitution diff")
    assert "<details>" in md.stdout  # long sections fold
    assert caic("diff", str(a), str(b), "--format", "xml").returncode == 2
    missing = caic("diff", str(a), str(tmp_path / "nope.cai"))
    assert missing.returncode == 2 and "no such constitution" in missing.stderr
    broken = tmp_path / "broken.cai"
    broken.write_text('constitution "x" { category c {', encoding="utf-8")
    bad = caic("diff", str(a), str(broken))
    assert bad.returncode == 2 and "error[" in bad.stderr and "Traceback" not in bad.stderr


def test_words_diff_roundtrip() -> None:
    ops = words_diff("a b c d", "a x c d e")
    assert " ".join(w.new for w in ops if w.new) == "a x c d e"
    assert " ".join(w.old for w in ops if w.old) == "a b c d"
