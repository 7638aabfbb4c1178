"""RLAIF labelling: soft-label maths, swap averaging, aggregation, abstention, CoT, inputs,
resume and the CLI, on a fake judge with known probabilities; then the real default model.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from caic.backends.base import Backend, Message, SamplingParams
from caic.compiler.sampling import draw
from caic.constitution_lang import loads
from caic.errors import UsageError
from caic.training.labeller import (
    ABSTAIN_MASS,
    Vote,
    aggregate,
    label_pairs,
    parse_verdict,
    principle_draws,
    two_way,
)
from caic.training.pair_sampler import chunk_seed, read_pairs, sample_pairs
from caic.training.principle_probe import findings, pearson, probe_principles, vote_table

CAI = """cai 1
constitution "t" {
  %s
  settings {
    seed 3
    judge {
      swap_positions %s
      clamp [0.4, 0.6]
      margin 0.1
    }
  }
  category safety {
    kind harm
    principle harmless { judge "Choose the less harmful response." }
  }
  category helpfulness {
    kind helpfulness
    principle helpful { judge "Choose the more helpful response." }
    principle honest { judge "Choose the more honest response." }
  }
  %s
}
"""
Q = {
    "harmless": "Choose the less harmful response.",
    "helpful": "Choose the more helpful response.",
    "honest": "Choose the more honest response.",
}


def constitution(priority: bool = True, swap: bool = True, tension: str = "") -> Any:
    prio = "priority safety > helpfulness" if priority else ""
    return loads(CAI % (prio, "true" if swap else "false", tension))


# -- a fake judge with known probabilities -----------------------------------------------

_PAIR = re.compile(r"\(A\) (.*)\n\(B\) (.*?)\n\n", re.DOTALL)
_POINT = re.compile(r"Assistant's response:\n(.*)\n\nPrinciple: ", re.DOTALL)

PairFn = Callable[[str, str, str], tuple[float, float]]
"""(principle name, text in slot A, text in slot B) -> raw (P(A), P(B))."""


class FakeJudge(Backend):
    """Returns log(P) for each option from rules keyed by the principle and the texts."""

    name = "fake"
    model_id = "fake-judge"

    def __init__(
        self,
        pair_fn: PairFn | None = None,
        point_fn: Callable[[str, str], tuple[float, float]] | None = None,
        cot_fn: Callable[[str, str, str], str] | None = None,
    ) -> None:
        self.pair_fn = pair_fn or (lambda p, a, b: (0.5, 0.4))
        self.point_fn = point_fn or (lambda p, r: (0.5, 0.5))
        self.cot_fn = cot_fn or (lambda p, a, b: "Thinking. The better response is (A)")
        self.score_calls: list[tuple[int, list[str], str]] = []
        self.generate_calls: list[int] = []

    @property
    def max_context(self) -> int:
        return 4096

    @staticmethod
    def _principle(text: str) -> str:
        return next(name for name, q in Q.items() if q in text)

    def generate(self, conversations: list[list[Message]], params: SamplingParams) -> list[str]:
        self.generate_calls.append(len(conversations))
        out = []
        for conv in conversations:
            text = conv[-1]["content"]
            if "Assistant's response" in text or "(A)" not in text:  # a policy prompt
                out.append(f"reply to {text} #{params.seed}")
                continue
            a, b = _PAIR.search(text).groups()  # type: ignore[union-attr]
            out.append(self.cot_fn(self._principle(text), a, b))
        return out

    def score_options(
        self, prompts: list[list[Message]], options: list[str], assistant_prefix: str = ""
    ) -> list[list[float]]:
        self.score_calls.append((len(prompts), list(options), assistant_prefix))
        rows = []
        for conv in prompts:
            text = conv[-1]["content"]
            if options == ["Yes", "No"]:
                resp = _POINT.search(text).group(1)  # type: ignore[union-attr]
                probs = self.point_fn(self._principle(text), resp)
            else:
                a, b = _PAIR.search(text).groups()  # type: ignore[union-attr]
                probs = self.pair_fn(self._principle(text), a, b)
            rows.append([math.log(x) if x > 0 else -math.inf for x in probs])
        return rows


def pair(pid: str, a: str, b: str, gold: str | None = None) -> dict[str, Any]:
    return {
        "id": pid,
        "conversation": [{"role": "user", "content": f"question {pid}"}],
        "response_a": a,
        "response_b": b,
        "gold": gold,
    }


def biased(p: str, a: str, b: str) -> tuple[float, float]:
    """Prefers "good" a little and slot A a lot: forward 0.6/0.3, swapped 0.5/0.4."""
    if a.startswith("good"):
        return 0.6, 0.3
    return 0.5, 0.4


# -- soft-label maths ----------------------------------------------------------------------


def test_two_way_is_normalised_probability_and_mass() -> None:
    p, mass = two_way([math.log(0.6), math.log(0.3)])
    assert p == pytest.approx(2 / 3) and mass == pytest.approx(0.9)
    p, mass = two_way([-1000.0, -1001.0])  # no underflow: still a sigmoid of the gap
    assert p == pytest.approx(1 / (1 + math.exp(-1))) and mass < 1e-300
    assert two_way([-math.inf, math.log(0.2)]) == (0.0, pytest.approx(0.2))
    assert two_way([-math.inf, -math.inf]) == (0.5, 0.0)


def test_swap_averaging_and_consistency() -> None:
    judge = FakeJudge(biased)
    rows = list(label_pairs(constitution(), [pair("1", "good answer", "bad answer", "a")],
                            judge, seed=0))  # fmt: skip
    [r] = rows
    # forward: A=good → P(a)=0.6/0.9; swapped: A=bad, B=good → P(a)=0.4/0.9
    assert r["p_forward"] == pytest.approx(2 / 3)
    assert r["p_swapped"] == pytest.approx(4 / 9)
    assert r["p_a"] == pytest.approx((2 / 3 + 4 / 9) / 2)
    assert r["p_chosen"] == pytest.approx(5 / 9)
    assert r["consistent"] is False  # the forward order says a, the swapped one says b
    assert r["chosen"] == [{"role": "assistant", "content": "good answer"}]
    assert r["rejected"] == [{"role": "assistant", "content": "bad answer"}]
    assert r["chosen_slot"] == "a" and r["gold"] == "a" and r["agrees_with_gold"] is True
    assert r["abstained"] is False and r["mode"] == "pairwise" and r["judge"] == "fake-judge"
    assert len(r["constitution_sha256"]) == 64 and r["schema_version"] == 1


def test_consistent_when_both_orders_agree_and_gold_in_slot_b() -> None:
    def fair(p: str, a: str, b: str) -> tuple[float, float]:
        return (0.8, 0.1) if a.startswith("good") else (0.1, 0.8)

    [r] = label_pairs(constitution(), [pair("x", "bad", "good", "b")], FakeJudge(fair))
    assert r["p_forward"] == pytest.approx(1 / 9) and r["p_swapped"] == pytest.approx(1 / 9)
    assert r["consistent"] is True and r["chosen_slot"] == "b"
    assert r["p_chosen"] == pytest.approx(8 / 9) and r["agrees_with_gold"] is True
    assert r["chosen"][0]["content"] == "good"


def test_both_orders_of_a_batch_go_in_one_score_call() -> None:
    judge = FakeJudge(biased)
    pairs = [pair(str(i), f"good {i}", f"bad {i}") for i in range(5)]
    rows = list(label_pairs(constitution(), pairs, judge, batch_size=3))
    assert [r["id"] for r in rows] == ["0", "1", "2", "3", "4"]
    assert [n for n, _, _ in judge.score_calls] == [6, 4]  # 3 pairs × 2 orders, then 2 × 2
    assert judge.score_calls[0][1:] == (["A", "B"], "The better response is (")


def test_without_swap_positions_only_the_forward_order_is_judged() -> None:
    judge = FakeJudge(biased)
    [r] = label_pairs(constitution(swap=False), [pair("1", "good", "bad")], judge)
    assert judge.score_calls[0][0] == 1
    assert r["p_swapped"] is None and r["consistent"] is None
    assert r["p_a"] == pytest.approx(2 / 3) == r["p_forward"]


# -- several principles ---------------------------------------------------------------------


def vote(name: str, tier: int, p: float | None) -> Vote:
    return Vote(principle=name, tier=tier, p_a=p, p_forward=p, p_swapped=p, mass=[1.0, 1.0],
                consistent=True, abstained=p is None)  # fmt: skip


def test_lexicographic_aggregation_with_margin() -> None:
    # the top tier is decisive: it wins even against a confident lower tier
    assert aggregate([vote("s", 0, 0.8), vote("h", 1, 0.1)], 0.1) == (0.8, "lexicographic", 0)
    # the top tier is within the margin (|0.55 - 0.5| < 0.1): the next tier decides
    p, how, tier = aggregate([vote("s", 0, 0.55), vote("h", 1, 0.2), vote("o", 1, 0.3)], 0.1)
    assert (p, how, tier) == (pytest.approx(0.25), "lexicographic", 1)
    # every tier indifferent: the mean of all verdicts
    p, how, tier = aggregate([vote("s", 0, 0.55), vote("h", 1, 0.47)], 0.1)
    assert (p, how, tier) == (pytest.approx(0.51), "lexicographic", None)
    # one tier: the mean; abstentions are left out; nothing left: no label
    assert aggregate([vote("h", 1, 0.2), vote("o", 1, 0.6)], 0.1)[:2] == (
        pytest.approx(0.4),
        "mean",
    )
    assert aggregate([vote("h", 1, 0.2), vote("o", 1, None)], 0.1) == (0.2, "single", None)
    assert aggregate([vote("h", 1, None)], 0.1) == (None, "none", None)


def test_all_principles_through_the_labeller_use_priority_tiers() -> None:
    def by_principle(p: str, a: str, b: str) -> tuple[float, float]:
        # harmless is nearly indifferent (within margin 0.1); helpful and honest prefer b
        first = {"harmless": 0.52, "helpful": 0.2, "honest": 0.3}[p]
        return first, 1 - first  # same in both orders: no position bias

    [r] = label_pairs(constitution(), [pair("1", "x", "y")], FakeJudge(by_principle),
                      principles="all")  # fmt: skip
    assert r["principles"] == ["harmless", "helpful", "honest"]
    votes = {v["principle"]: v for v in r["votes"]}
    # this judge always favours slot A by the same amount, so the orders cancel exactly
    assert votes["helpful"]["p_forward"] == pytest.approx(0.2)
    assert votes["helpful"]["p_swapped"] == pytest.approx(0.8)
    assert votes["helpful"]["consistent"] is False
    # every tier indifferent after averaging: lexicographic falls back to the mean
    assert (r["aggregation"], r["deciding_tier"]) == ("lexicographic", None)
    assert r["p_a"] == pytest.approx(0.5)

    def decisive(p: str, a: str, b: str) -> tuple[float, float]:
        if p == "harmless":  # prefers x wherever it is
            return (0.9, 0.1) if a == "x" else (0.1, 0.9)
        return (0.1, 0.9) if a == "x" else (0.9, 0.1)  # the lower tier prefers y

    [r] = label_pairs(constitution(), [pair("1", "x", "y")], FakeJudge(decisive),
                      principles="all")  # fmt: skip
    assert r["deciding_tier"] == 0 and r["p_a"] == pytest.approx(0.9)
    assert r["chosen"][0]["content"] == "x"
    [r] = label_pairs(constitution(priority=False), [pair("1", "x", "y")],
                      FakeJudge(decisive), principles="all")  # fmt: skip
    assert r["aggregation"] == "mean" and r["p_a"] == pytest.approx((0.9 + 0.1 + 0.1) / 3)


def test_principle_draws_follow_sampling_draw_and_are_prefix_stable() -> None:
    c = constitution()
    assert principle_draws(c, 6, "sample", 5) == draw(c, "judge", 6, 1, 5)
    assert principle_draws(c, 4, "sample", 5) == principle_draws(c, 10, "sample", 5)[:4]
    assert principle_draws(c, 2, "all", 0) == [["harmless", "helpful", "honest"]] * 2
    many = principle_draws(c, 20, 3, 1)
    assert all(len(set(r)) == len(r) and 1 <= len(r) <= 3 for r in many)
    assert [list(dict.fromkeys(r)) for r in draw(c, "judge", 20, 3, 1)] == many
    judge = FakeJudge()
    rows = list(label_pairs(c, [pair(str(i), "a", "b") for i in range(6)], judge, seed=5))
    assert [r["principles"] for r in rows] == draw(c, "judge", 6, 1, 5)


# -- abstention, CoT, pointwise -------------------------------------------------------------


def test_a_judge_answering_neither_option_abstains() -> None:
    def refuses(p: str, a: str, b: str) -> tuple[float, float]:
        return (0.03, 0.02) if "refuse" in a + b else (0.6, 0.3)

    pairs = [pair("r", "refuse me", "other", "a"), pair("ok", "fine", "other")]
    r, ok = label_pairs(constitution(), pairs, FakeJudge(refuses))
    assert ABSTAIN_MASS == 0.1
    assert r["abstained"] is True and r["chosen"] is None and r["rejected"] is None
    assert r["p_chosen"] is None and r["agrees_with_gold"] is None
    assert r["response_a"] == "refuse me" and r["votes"][0]["mass"] == [pytest.approx(0.05)] * 2
    assert ok["abstained"] is False and ok["response_a"] is None

    def one_abstains(p: str, a: str, b: str) -> tuple[float, float]:
        return (0.01, 0.01) if p == "honest" else (0.7, 0.2)

    [r] = label_pairs(constitution(priority=False), [pair("1", "x", "y")],
                      FakeJudge(one_abstains), principles="all")  # fmt: skip
    assert not r["abstained"] and [v["abstained"] for v in r["votes"]] == [False, False, True]
    assert r["p_a"] == pytest.approx(0.5)  # each live vote averages 7/9 and 2/9


def test_parse_verdict() -> None:
    assert parse_verdict("A is rude. The better response is (B).") == ("b", "A is rude.")
    assert parse_verdict("So the better response is: A") == ("a", "So")
    assert parse_verdict("I pick (A) here") == ("a", "I pick (A) here")
    assert parse_verdict("(A) and (B) are both fine")[0] is None
    assert parse_verdict("I cannot judge this.")[0] is None
    assert parse_verdict("The better response is a matter of taste")[0] is None


def test_cot_scores_after_the_reasoning_and_clamps() -> None:
    def confident(p: str, a: str, b: str) -> tuple[float, float]:
        return (0.95, 0.05) if a == "good" else (0.05, 0.95)

    def reason(p: str, a: str, b: str) -> str:
        return f"Slot A says {a}. The better response is ({'A' if a == 'good' else 'B'})"

    judge = FakeJudge(confident, cot_fn=reason)
    [r] = label_pairs(constitution(), [pair("1", "good", "bad", "a")], judge, cot=True)
    assert judge.generate_calls == [2]  # both orders' reasoning in one generate call
    prefixes = [prefix for _, _, prefix in judge.score_calls]
    assert prefixes == ["Slot A says good.\nThe better response is (",
                        "Slot A says bad.\nThe better response is ("]  # fmt: skip
    assert r["p_forward"] == pytest.approx(0.6) and r["p_swapped"] == pytest.approx(0.6)
    assert r["p_chosen"] == pytest.approx(0.6) and r["cot"] is True
    assert r["votes"][0]["reasoning"][0].startswith("Slot A says good")

    silent = FakeJudge(confident, cot_fn=lambda p, a, b: "Both are fine, hard to say.")
    [r] = label_pairs(constitution(), [pair("1", "good", "bad")], silent, cot=True)
    assert r["abstained"] is True and silent.score_calls == []


def test_pointwise_compares_yes_probabilities() -> None:
    def yes(p: str, resp: str) -> tuple[float, float]:
        return {"good": (0.6, 0.2), "bad": (0.2, 0.6)}[resp]

    judge = FakeJudge(point_fn=yes)
    [r] = label_pairs(constitution(), [pair("1", "bad", "good", "b")], judge, mode="pointwise")
    # s_a = 0.2/0.8 = 0.25, s_b = 0.6/0.8 = 0.75 → p_a = 0.25/(0.25+0.75)
    assert r["p_a"] == pytest.approx(0.25) and r["chosen_slot"] == "b"
    assert r["p_swapped"] is None and r["consistent"] is None and r["mode"] == "pointwise"
    assert judge.score_calls == [(2, ["Yes", "No"], "")]
    with pytest.raises(UsageError):
        list(label_pairs(constitution(), [pair("1", "a", "b")], judge, mode="pointwise", cot=True))


def test_skip_leaves_out_done_ids_but_keeps_their_draws() -> None:
    c = constitution()
    pairs = [pair(str(i), "a", "b") for i in range(8)]
    full = list(label_pairs(c, pairs, FakeJudge(), seed=2))
    rest = list(label_pairs(c, pairs, FakeJudge(), seed=2, skip={"0", "1", "2"}))
    assert [r["id"] for r in rest] == [str(i) for i in range(3, 8)]
    assert [r["principles"] for r in rest] == [r["principles"] for r in full[3:]]


# -- inputs ---------------------------------------------------------------------------------


def write_jsonl(path: Path, rows: list[dict[str, Any]], gz: bool = False) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


HH = {
    "chosen": "\n\nHuman: Can you help me insult my sister?\n\nAssistant: Let's talk it through.",
    "rejected": "\n\nHuman: Can you help me insult my sister?\n\nAssistant: She is ugly.",
}


@pytest.mark.parametrize(
    "rows,gz",
    [
        ([{"id": "p", "prompt": "Hi?", "response_a": "Hello.", "response_b": "Go away."}], False),
        ([{"id": "s", "prompt": "Hi?", "chosen": "Hello.", "rejected": "Go away."}], False),
        (
            [
                {
                    "id": "c",
                    "prompt": [{"role": "user", "content": "Hi?"}],
                    "chosen": [{"role": "assistant", "content": "Hello."}],
                    "rejected": [{"role": "assistant", "content": "Go away."}],
                }
            ],
            False,
        ),  # fmt: skip
        ([{"id": "h", **HH}], False),
        ([{"id": "h", **HH}], True),
    ],
    ids=["rlaif-pairs", "trl-standard", "trl-conversational", "hh-rlhf", "hh-rlhf-gz"],
)
def test_every_input_shape_labels_into_trl_rows(
    tmp_path: Path, rows: list[dict[str, Any]], gz: bool
) -> None:
    src = write_jsonl(tmp_path / ("in.jsonl.gz" if gz else "in.jsonl"), rows, gz)
    pairs = read_pairs(str(src))
    [r] = label_pairs(constitution(), pairs, FakeJudge(biased))
    for key in ("prompt", "chosen", "rejected"):  # TRL's conversational preference shape
        assert all(set(m) == {"role", "content"} for m in r[key])
    assert r["prompt"][-1]["role"] == "user" and r["chosen"][0]["role"] == "assistant"
    assert len(r["chosen"]) == len(r["rejected"]) == 1 and r["rejected"][0]["role"] == "assistant"
    texts = {r["chosen"][0]["content"], r["rejected"][0]["content"]}
    if "response_a" in rows[0]:
        assert r["gold"] is None and texts == {"Hello.", "Go away."}
    else:  # a human preference: kept as the slot the chosen response was placed in
        assert r["gold"] in ("a", "b")
        preferred = pairs[0]["response_" + r["gold"]]
        assert preferred in ("Hello.", "Let's talk it through.")


def test_multi_response_rows_expand_into_every_pair(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "p.jsonl", [
        {"id": "q", "prompt": "Hi?", "response_a": "1", "response_b": "2", "response_c": "3"},
        {"id": "r", "prompt": "Yo?", "response_a": "x", "response_b": "y"},
    ])  # fmt: skip
    got = [(p["id"], p["response_a"], p["response_b"]) for p in read_pairs(str(src))]
    assert got == [("q:ab", "1", "2"), ("q:ac", "1", "3"), ("q:bc", "2", "3"), ("r", "x", "y")]


# -- sampling pairs -------------------------------------------------------------------------


def test_sample_pairs_rows_seeds_and_resume() -> None:
    prompts = [{"id": f"p{i}", "prompt": f"prompt {i}", "category": "c"} for i in range(5)]
    policy = FakeJudge()
    chunks = list(sample_pairs(prompts, policy, n=3, temperature=0.8, seed=7, chunk_size=2,
                               max_new_tokens=12))  # fmt: skip
    rows = [r for c in chunks for r in c]
    assert [r["id"] for r in rows] == ["p0", "p1", "p2", "p3", "p4"]
    assert policy.generate_calls == [6, 6, 3]  # 2 prompts × n=3 per chunk
    r = rows[2]
    assert r["response_a"] == f"reply to prompt 2 #{chunk_seed(7, 1)}" == r["response_c"]
    assert r["distinct"] is False and "response_d" not in r
    assert (r["model"], r["seed"], r["temperature"], r["max_new_tokens"]) == (
        "fake-judge",
        7,
        0.8,
        12,
    )
    assert r["schema_version"] == 1 and r["category"] == "c"
    again = FakeJudge()
    resumed = list(sample_pairs(prompts, again, seed=7, chunk_size=2,
                                done={"p0", "p1", "p2"}))  # fmt: skip
    assert again.generate_calls == [4, 2]  # chunk 0 skipped; chunk 1 regenerated whole
    assert [r["id"] for c in resumed for r in c] == ["p2", "p3", "p4"]
    with pytest.raises(UsageError):
        list(sample_pairs(prompts, policy, temperature=0.0))


# -- the command line, on the fake judge ---------------------------------------------------


@pytest.fixture
def fake_backend(monkeypatch: pytest.MonkeyPatch) -> FakeJudge:
    from caic.backends import registry

    judge = FakeJudge(biased)
    monkeypatch.setattr(registry, "get_backend", lambda spec=None, **kw: judge)
    return judge


def cli(args: list[str]) -> Any:
    from caic.cli import (
        app,
        commands,  # noqa: F401  (registers the sub-commands)
    )

    return CliRunner().invoke(app, args, catch_exceptions=False)


def test_cli_pairs_label_audit_and_resume(tmp_path: Path, fake_backend: FakeJudge) -> None:
    from caic.errors import CaicError

    prompts = write_jsonl(tmp_path / "prompts.jsonl",
                          [{"id": f"p{i}", "prompt": f"good {i}"} for i in range(4)])  # fmt: skip
    pairs = tmp_path / "pairs.jsonl"
    res = cli(["rlaif", "pairs", "--prompts", str(prompts), "--out", str(pairs), "--seed", "1"])
    assert res.exit_code == 0, res.output
    assert len(pairs.read_text().splitlines()) == 4
    labels = tmp_path / "labels.jsonl"
    cai = tmp_path / "t.cai"
    cai.write_text(CAI % ("", "true", ""), encoding="utf-8")
    base = ["rlaif", "label", "-c", str(cai), "--pairs", str(pairs), "--no-cot",
            "--out", str(labels)]  # fmt: skip
    assert cli([*base, "--limit", "2"]).exit_code == 0
    assert len(labels.read_text().splitlines()) == 2
    fake_backend.score_calls.clear()
    assert cli(base).exit_code == 0
    assert sum(n for n, _, _ in fake_backend.score_calls) == 4  # only pairs 3 and 4, both orders
    rows = [json.loads(x) for x in labels.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["p0", "p1", "p2", "p3"]
    with pytest.raises(CaicError) as e:  # a different mode on the same file is refused
        cli([*base, "--mode", "pointwise"])
    assert e.value.exit_code == 2 and "mode" in str(e.value)
    res = cli(["rlaif", "audit", "--labels", str(labels), "--format", "json"])
    report = json.loads(res.stdout)
    assert report["n"] == 4 and report["abstention_rate"] == 0.0
    assert report["first_slot_rate"] == 1.0  # the fake always prefers slot A forward
    assert report["accuracy"] is None  # sampled pairs carry no human preference


def test_cli_label_refuses_duplicate_ids(tmp_path: Path, fake_backend: FakeJudge) -> None:
    from caic.errors import CaicError

    cai = tmp_path / "t.cai"
    cai.write_text(CAI % ("", "true", ""), encoding="utf-8")
    dup = write_jsonl(tmp_path / "dup.jsonl", [
        {"id": "q", "prompt": "Hi?", "response_a": "1", "response_b": "2"},
        {"id": "q", "prompt": "Yo?", "response_a": "3", "response_b": "4"},
    ])  # fmt: skip
    with pytest.raises(CaicError, match="duplicate pair id `q`"):
        cli(["rlaif", "label", "-c", str(cai), "--pairs", str(dup), "--out",
             str(tmp_path / "l.jsonl")])  # fmt: skip


# -- behavioural probe ----------------------------------------------------------------------


def opinions(p: str, a: str, b: str) -> tuple[float, float]:
    """harmless likes the "safe" response, helpful and honest the "useful" one; the
    strength grows with the pair's number, so the correlations are defined."""
    k = int(re.search(r"\d+", a).group()) / 20  # type: ignore[union-attr]
    prefers_a = ("safe" in a) == (p == "harmless")
    q = 0.55 + k if prefers_a else 0.45 - k
    return q, 1 - q


PROBE = [pair(str(i), f"safe {i}", f"useful {i}") if i % 2 else
         pair(str(i), f"useful {i}", f"safe {i}") for i in range(1, 7)]  # fmt: skip


def test_probe_flags_conflicting_and_redundant_principles() -> None:
    pairs = PROBE
    diags = probe_principles(constitution(), pairs, FakeJudge(opinions))
    got = {(d.name, d.principles) for d in diags}
    assert got == {
        ("conflict-in-practice", ("harmless", "helpful")),
        ("conflict-in-practice", ("harmless", "honest")),
        ("redundant-in-practice", ("helpful", "honest")),
    }
    d = next(d for d in diags if d.name == "conflict-in-practice")
    assert d.severity == "warning" and d.code == "CAI901" and "r = -1.00" in d.message
    assert d.line == constitution().principle("harmless").span.line
    # a declared tension is intended: not reported as a conflict
    c = constitution(tension="tension harmless helpful { prefer harmless }")
    table = vote_table(list(label_pairs(c, pairs, FakeJudge(opinions), principles="all")))
    names = {d.principles for d in findings(c, table) if d.name.startswith("conf")}
    assert names == {("harmless", "honest")}
    assert pearson([1, 2, 3], [1, 1, 1]) is None and pearson([1, 2, 3], [3, 2, 1]) == -1.0


def test_cli_probe(tmp_path: Path, fake_backend: FakeJudge) -> None:
    fake_backend.pair_fn = opinions
    cai = tmp_path / "t.cai"
    cai.write_text(CAI % ("priority safety > helpfulness", "true", ""), encoding="utf-8")
    probe = write_jsonl(tmp_path / "probe.jsonl", [
        {"id": p["id"], "prompt": "q", "response_a": p["response_a"],
         "response_b": p["response_b"]} for p in PROBE
    ])  # fmt: skip
    res = cli(["rlaif", "probe", "-c", str(cai), "--pairs", str(probe), "--format", "json"])
    assert res.exit_code == 1  # findings
    found = json.loads(res.stdout)
    assert {(d["code"], tuple(d["principles"])) for d in found} == {
        ("CAI901", ("harmless", "helpful")),
        ("CAI901", ("harmless", "honest")),
        ("CAI902", ("helpful", "honest")),
    }
    assert all(d["severity"] == "warning" and d["path"] == str(cai) for d in found)


# -- the real default model -----------------------------------------------------------------


@pytest.fixture(scope="module")
def real_judge() -> Any:
    from backend_fixtures import default_gguf_or_skip

    default_gguf_or_skip()
    from caic.backends.registry import get_backend

    backend = get_backend(None)
    yield backend
    backend.close()


SHORT = [
    pair("s1", "Sure: mix bleach and ammonia in a closed room.",
         "No. Mixing bleach and ammonia releases toxic gas; keep them apart.", "b"),
    pair("s2", "Paris.", "The capital of France is Paris, on the Seine.", "a"),
    pair("s3", "I won't write that.", "The sea is wide, the sea is blue.", "b"),
]  # fmt: skip


@pytest.mark.slow
def test_real_tokenizer_scores_the_letter_after_the_open_parenthesis(real_judge: Any) -> None:
    """SmolLM2 tokenises "... is (" + "A" as [" (", "A"]: nothing merges across the boundary,
    so the option score is the next-token log-prob of the letter; scoring " (A"/" (B" after
    "... is" (the parenthesis moved into the option, where it merges with the space) gives
    the same soft label."""
    from caic.compiler.prompts import fill, transcript
    from caic.compiler.promptset import judge_records

    tok = real_judge.tokenizer
    prefix = "The better response is ("
    ids = tok(prefix + "A", add_special_tokens=False)["input_ids"]
    assert tok(prefix, add_special_tokens=False)["input_ids"] == ids[:-1]
    assert [tok.decode([i]) for i in ids[-2:]] == [" (", "A"]
    c = constitution()
    p = SHORT[0]
    [row] = label_pairs(c, [p], real_judge)
    want = f"{row['principles'][0]}/direct/forward"
    rec = next(r for r in judge_records(c) if r["id"] == want)
    conv = [{"role": "user", "content": fill(rec["messages"][0]["parts"],
             conversation=transcript(p["conversation"]), option_a=p["response_a"],
             option_b=p["response_b"])}]  # fmt: skip
    moved = real_judge.score_options([conv], [" (A", " (B"], "The better response is")
    assert two_way(moved[0])[0] == pytest.approx(row["p_forward"], abs=1e-4)


@pytest.mark.slow
def test_real_batched_scoring_equals_one_at_a_time(real_judge: Any) -> None:
    """Pairs of different lengths in one left-padded batch score as they do alone (both
    orders of three pairs in one score_options call, against one pair per call)."""
    c = constitution()
    batched = list(label_pairs(c, SHORT, real_judge, batch_size=16))
    single = list(label_pairs(c, SHORT, real_judge, batch_size=1))
    for b, s in zip(batched, single, strict=True):
        assert b["p_forward"] == pytest.approx(s["p_forward"], abs=1e-4)
        assert b["p_swapped"] == pytest.approx(s["p_swapped"], abs=1e-4)
        assert b["p_a"] == pytest.approx(s["p_a"], abs=1e-4)
        assert all(m > ABSTAIN_MASS for v in b["votes"] for m in v["mass"])


@pytest.mark.slow
def test_real_cli_pairs_then_label_in_both_modes(tmp_path: Path) -> None:
    from backend_fixtures import default_gguf_or_skip

    default_gguf_or_skip()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [
        {"id": "p1", "prompt": "How can I get back at a coworker who embarrassed me?"},
        {"id": "p2", "prompt": "Write a short poem about the sea."},
    ])  # fmt: skip

    def caic(*args: str) -> subprocess.CompletedProcess[str]:
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "caic", *args], capture_output=True,
                              text=True, env=env, timeout=240)  # fmt: skip
        print(args[:2], f"{time.perf_counter() - t0:.1f} s")
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    pairs = tmp_path / "pairs.jsonl"
    caic("rlaif", "pairs", "--prompts", str(prompts), "--n", "2", "--temperature", "1.0",
         "--max-new-tokens", "16", "--seed", "3", "--out", str(pairs))  # fmt: skip
    rows = [json.loads(x) for x in pairs.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["p1", "p2"]
    assert all(r["response_a"] and r["response_b"] for r in rows)
    assert all(r["model"] == "SmolLM2-135M-Instruct.Q4_1" and r["seed"] == 3 for r in rows)
    for mode in ("pairwise", "pointwise"):
        out = tmp_path / f"labels-{mode}.jsonl"
        caic("rlaif", "label", "-c", "hhh-v2", "--pairs", str(pairs), "--mode", mode,
             "--no-cot", "--out", str(out))  # fmt: skip
        labels = [json.loads(x) for x in out.read_text().splitlines()]
        assert [r["id"] for r in labels] == ["p1", "p2"] and all(r["mode"] == mode for r in labels)
        for r in labels:
            assert not r["abstained"] and 0.5 <= r["p_chosen"] <= 1.0
            texts = {r["chosen"][0]["content"], r["rejected"][0]["content"]}
            src = next(x for x in rows if x["id"] == r["id"])
            assert texts == {src["response_a"], src["response_b"]}
            assert (r["p_swapped"] is None) == (mode == "pointwise")
    # TRL renders the rows with the judge's own chat template (what DPO/RewardTrainer do)
    from transformers import AutoTokenizer
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    from caic.backends.transformers_backend import load_default_model_path

    tok = AutoTokenizer.from_pretrained(load_default_model_path())
    assert is_conversational(labels[0])
    trl_row = {k: labels[0][k] for k in ("prompt", "chosen", "rejected")}
    text = maybe_apply_chat_template(trl_row, tok)
    assert labels[0]["chosen"][0]["content"] in text["chosen"]
    assert text["prompt"].rstrip().endswith("<|im_start|>assistant")
    from caic.training.label_audit import audit

    report = audit([json.loads(x) for x in (tmp_path / "labels-pairwise.jsonl").open()])
    assert report["n"] == 2 and report["position_consistency"] is not None
