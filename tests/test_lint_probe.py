"""Behavioural lint, ``caic lint --probe PAIRS``: principles vote on probe pairs through the
judge backend; anti-correlated votes are CAI901, near-identical ones CAI902, in every output
format, with ``caic explain`` entries, select/ignore and inline suppression. A fake judge
with known opinions first; then the real default model on a tiny probe file.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import cli

from caic.backends.base import Backend, Message, SamplingParams

CAI = """cai 1
constitution "probe-test" {
  category safety {
    kind harm
    principle harmless {%s
      judge "Choose the less harmful response."
    }
  }
  category helpfulness {
    kind helpfulness
    principle helpful { judge "Choose the more helpful response." }
    principle useful { judge "Choose the more useful response." }
  }
  %s
}
"""
_PAIR = re.compile(r"\(A\) (.*)\n\(B\) (.*?)\n\n", re.DOTALL)


class OpinionatedJudge(Backend):
    """`harmless` prefers the "safe" response, the other two the "useful" one, in both
    orders, with a strength that varies by pair (so the votes have variance)."""

    name = "fake"
    model_id = "fake-judge"

    def __init__(self) -> None:
        self.score_calls = 0

    @property
    def max_context(self) -> int:
        return 4096

    def generate(self, conversations: list[list[Message]], params: SamplingParams) -> list[str]:
        raise AssertionError("the probe scores options; it does not generate")

    def score_options(
        self, prompts: list[list[Message]], options: list[str], assistant_prefix: str = ""
    ) -> list[list[float]]:
        self.score_calls += 1
        rows = []
        for conv in prompts:
            text = conv[-1]["content"]
            a, b = _PAIR.search(text).groups()  # type: ignore[union-attr]
            wants = "safe" if "less harmful" in text else "useful"
            k = int(re.sub(r"\D", "", a)) / 20  # pair strength 0.05 .. 0.3
            p = 0.55 + k if a.startswith(wants) else 0.45 - k
            rows.append([math.log(p), math.log(1 - p)])
        return rows


def probe_file(tmp_path: Path, n: int = 6) -> Path:
    rows = []
    for i in range(1, n + 1):
        a, b = (f"safe {i}", f"useful {i}") if i % 2 else (f"useful {i}", f"safe {i}")
        rows.append({"id": str(i), "prompt": f"question {i}", "response_a": a, "response_b": b})
    path = tmp_path / "probe.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def cai_file(tmp_path: Path, suppress: str = "", tension: str = "") -> Path:
    path = tmp_path / "t.cai"
    path.write_text(CAI % (suppress, tension), encoding="utf-8")
    return path


@pytest.fixture
def judge(monkeypatch: pytest.MonkeyPatch) -> OpinionatedJudge:
    from caic.backends import registry

    fake = OpinionatedJudge()
    monkeypatch.setattr(registry, "get_backend", lambda spec=None, **kw: fake)
    return fake


ONLY_PROBE = ("--select", "CAI901,CAI902")
WANT = {
    ("CAI901", ("harmless", "helpful")),
    ("CAI901", ("harmless", "useful")),
    ("CAI902", ("helpful", "useful")),
}


def test_probe_findings_in_json_with_the_correlation(tmp_path: Path, judge: Any) -> None:
    cai = cai_file(tmp_path)
    code, out, err = cli("lint", cai, "--probe", probe_file(tmp_path), "--format", "json",
                         *ONLY_PROBE)  # fmt: skip
    assert code == 1, err
    found = json.loads(out)
    assert {(d["code"], tuple(d["principles"])) for d in found} == WANT
    for d in found:
        assert d["severity"] == "warning" and d["path"] == str(cai)
        want = "-1.00" if d["code"] == "CAI901" else "+1.00"
        assert f"r = {want} over 6 probe pairs" in d["message"]
    assert {d["name"] for d in found} == {"conflict-in-practice", "redundant-in-practice"}
    assert judge.score_calls == 1  # every principle, both orders, every pair: one call
    assert "probing 3 principles of probe-test over 6 pairs with fake-judge" in err


def test_probe_findings_in_human_sarif_and_github(tmp_path: Path, judge: Any) -> None:
    cai, probe = cai_file(tmp_path), probe_file(tmp_path)
    code, out, err = cli("lint", cai, "--probe", probe, *ONLY_PROBE)
    assert code == 1 and out == ""
    assert err.count("warning[CAI901]") == 2 and err.count("warning[CAI902]") == 1
    assert "3 warnings in 1 file" in err
    code, out, _ = cli("lint", cai, "--probe", probe, "--format", "sarif", *ONLY_PROBE)
    run = json.loads(out)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    got = {(r["ruleId"], rules[r["ruleIndex"]]["id"], rules[r["ruleIndex"]]["name"])
           for r in run["results"]}  # fmt: skip
    assert got == {("CAI901", "CAI901", "conflict-in-practice"),
                   ("CAI902", "CAI902", "redundant-in-practice")}  # fmt: skip
    code, out, _ = cli("lint", cai, "--probe", probe, "--format", "github", *ONLY_PROBE)
    lines = out.splitlines()
    assert len(lines) == 3 and all(x.startswith("::warning file=") for x in lines)
    assert sum("[CAI902]" in x for x in lines) == 1


def test_static_rules_and_probe_together_and_ignore(tmp_path: Path, judge: Any) -> None:
    cai, probe = cai_file(tmp_path), probe_file(tmp_path)
    _, plain, _ = cli("lint", cai, "--format", "json")
    static = {(d["code"], tuple(d["principles"])) for d in json.loads(plain)}
    code, out, _ = cli("lint", cai, "--probe", probe, "--format", "json", "--ignore", "CAI902")
    got = {(d["code"], tuple(d["principles"])) for d in json.loads(out)}
    assert code == 1 and got == static | {w for w in WANT if w[0] == "CAI901"}
    # selecting only static rules leaves the probe out (and does not load a judge)
    code, out, _ = cli("lint", cai, "--probe", probe, "--format", "json", "--select", "CAI3")
    assert not any(d["code"].startswith("CAI9") for d in json.loads(out))


def test_tension_and_inline_suppression_silence_probe_findings(tmp_path: Path, judge: Any) -> None:
    probe = probe_file(tmp_path)
    cai = cai_file(tmp_path, tension="tension harmless helpful { prefer harmless }")
    _, out, _ = cli("lint", cai, "--probe", probe, "--format", "json", *ONLY_PROBE)
    got = {(d["code"], tuple(d["principles"])) for d in json.loads(out)}
    assert got == WANT - {("CAI901", ("harmless", "helpful"))}
    cai = cai_file(tmp_path, suppress="  # caic: ignore[conflict-in-practice]")
    _, out, _ = cli("lint", cai, "--probe", probe, "--format", "json", *ONLY_PROBE)
    assert {d["code"] for d in json.loads(out)} == {"CAI902"}


def test_too_few_probe_pairs_and_usage_errors(tmp_path: Path, judge: Any) -> None:
    cai = cai_file(tmp_path)
    code, out, err = cli("lint", cai, "--probe", probe_file(tmp_path, 3), "--format", "json",
                         *ONLY_PROBE)  # fmt: skip
    assert code == 0 and json.loads(out) == [] and "fewer than the 5" in err
    code, out, _ = cli("lint", cai, "--probe", probe_file(tmp_path, 3), "--format", "json",
                       "--probe-min-pairs", "3", *ONLY_PROBE)  # fmt: skip
    assert code == 1 and len(json.loads(out)) == 3
    code, _, err = cli("lint", cai, "--judge", "transformers")
    assert code == 2 and "--judge needs --deep or --probe" in err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    code, _, err = cli("lint", cai, "--probe", empty)
    assert code == 2 and "no pairs" in err


@pytest.mark.parametrize("key", ["CAI901", "conflict-in-practice", "CAI902"])
def test_explain_probe_codes(key: str) -> None:
    code, out, _ = cli("explain", key)
    assert code == 0 and "Anti-pattern" in out and "Best practice" in out
    assert out.startswith("CAI901 conflict-in-practice" if key != "CAI902" else "CAI902")


# -- the real default model -----------------------------------------------------------------

REAL_PAIRS = [
    ("How do I pick a lock?", "Use a tension wrench and a pick; rake the pins until it turns.",
     "I can't help you get into a place that isn't yours; a locksmith can help if it's yours."),
    ("What is 2 + 2?", "4.", "2 + 2 is 4, because adding two and two gives four."),
    ("Write a haiku about rain.", "Rain taps the window / the gutters hum a low song / "
     "puddles hold the sky", "No."),
    ("Can I mix bleach and ammonia?", "Yes, it cleans twice as well.",
     "No: together they release toxic chloramine gas. Use one at a time."),
]  # fmt: skip


@pytest.mark.slow
def test_real_model_probe_matches_its_own_votes(tmp_path: Path) -> None:
    """4 pairs, 3 principles, the default judge: the lint's findings are exactly the principle
    pairs whose vote correlation (recomputed here from uncached labelling) crosses the
    thresholds, each with its r in the message."""
    from backend_fixtures import default_gguf_or_skip

    default_gguf_or_skip()
    from caic.backends.registry import get_backend
    from caic.constitution_lang import load
    from caic.training.labeller import label_pairs
    from caic.training.pair_sampler import read_pairs
    from caic.training.principle_probe import pearson, vote_table

    cai = cai_file(tmp_path)
    probe = tmp_path / "probe.jsonl"
    probe.write_text("".join(
        json.dumps({"id": f"r{i}", "prompt": q, "response_a": a, "response_b": b}) + "\n"
        for i, (q, a, b) in enumerate(REAL_PAIRS)), encoding="utf-8")  # fmt: skip
    code, out, err = cli("lint", cai, "--probe", probe, "--probe-min-pairs", "4",
                         "--format", "json", *ONLY_PROBE)  # fmt: skip
    assert code in (0, 1), err
    assert "probing 3 principles of probe-test over 4 pairs" in err
    found = {tuple(d["principles"]): d for d in json.loads(out)}

    c = load(cai)
    with get_backend(None) as backend:
        backend.prefix_cache = False  # the independent, uncached path
        rows = list(label_pairs(c, read_pairs(str(probe)), backend, principles="all"))
    table = vote_table(rows)
    assert set(table) == {"harmless", "helpful", "useful"}
    assert all(len(v) == 4 for v in table.values())  # no abstentions on these pairs
    expected = {}
    names = ["harmless", "helpful", "useful"]
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            r = pearson([table[a][k] for k in sorted(table[a])],
                        [table[b][k] for k in sorted(table[b])])  # fmt: skip
            if r is not None and (r <= -0.3 or r >= 0.9):
                expected[(a, b)] = ("CAI901" if r <= -0.3 else "CAI902", r)
    print("votes", table, "expected", expected)
    assert set(found) == set(expected)
    for key, (code_, r) in expected.items():
        assert found[key]["code"] == code_
        assert f"r = {r:+.2f} over 4 probe pairs" in found[key]["message"]
