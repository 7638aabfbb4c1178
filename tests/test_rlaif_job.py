"""The RLAIF jobs as library calls (``caic.training.rlaif_job``): each built from its config
in Python, run on the fake judge of ``test_rlaif``, checked on its typed result and on the
rows it wrote; and the configs refusing values the commands refuse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from test_rlaif import CAI, PROBE, FakeJudge, biased, opinions, write_jsonl

from caic.errors import UsageError
from caic.training.rlaif_job import (
    AuditConfig,
    AuditResult,
    LabelConfig,
    LabelResult,
    PairsConfig,
    PairsResult,
    ProbeConfig,
    ProbeResult,
    audit,
    label,
    pairs,
    probe,
)


@pytest.fixture
def judge(monkeypatch: pytest.MonkeyPatch) -> FakeJudge:
    from caic.backends import registry

    fake = FakeJudge(biased)
    monkeypatch.setattr(registry, "get_backend", lambda spec=None, **kw: fake)
    return fake


class Log:
    """Collects what a job says and the progress it reports."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ticks: list[tuple[str, int, int]] = []

    def say(self, text: str) -> None:
        self.lines.append(text)

    def progress(self, task: str, done: int, total: int) -> None:
        self.ticks.append((task, done, total))


def rows_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def cai_file(tmp_path: Path, priority: str = "") -> Path:
    path = tmp_path / "t.cai"
    path.write_text(CAI % (priority, "true", ""), encoding="utf-8")
    return path


def test_pairs_writes_response_sets_and_resumes(tmp_path: Path, judge: FakeJudge) -> None:
    prompts = write_jsonl(tmp_path / "prompts.jsonl",
                          [{"id": f"p{i}", "prompt": f"good {i}"} for i in range(5)])  # fmt: skip
    out = tmp_path / "pairs.jsonl"
    log = Log()
    cfg = PairsConfig(prompts=str(prompts), out=out, n=3, seed=1, limit=2, chunk_size=2)
    r = pairs(cfg, say=log.say, progress=log.progress)
    assert isinstance(r, PairsResult)
    assert (r.out, r.total, r.resumed, r.written) == (out, 2, 0, 2)
    rows = rows_of(out)
    assert [x["id"] for x in rows] == ["p0", "p1"]
    assert all(x["response_a"] and x["response_b"] and x["response_c"] for x in rows)
    assert all(x["seed"] == 1 and x["model"] == "fake-judge" for x in rows)
    assert log.ticks == [("pairs", 0, 2), ("pairs", 2, 2)]
    assert log.lines == ["loading model default ..."]

    # --limit may grow: only the three missing prompts are sampled
    log = Log()
    r = pairs(cfg.model_copy(update={"limit": None}), say=log.say, progress=log.progress)
    assert (r.total, r.resumed, r.written) == (5, 2, 3)
    assert [x["id"] for x in rows_of(out)] == [f"p{i}" for i in range(5)]
    assert log.ticks[0] == ("pairs", 2, 5) and log.ticks[-1] == ("pairs", 5, 5)
    assert log.lines[0] == f"{out}: resuming, 2 of 5 prompts already done"

    log = Log()
    r = pairs(cfg.model_copy(update={"limit": None}), say=log.say)
    assert (r.total, r.resumed, r.written) == (5, 5, 0)
    assert log.lines == [f"{out}: all 5 prompts already done"]
    # another seed on the same file is refused, naming what changed
    with pytest.raises(UsageError, match="seed") as e:
        pairs(cfg.model_copy(update={"seed": 2}))
    assert e.value.exit_code == 2
    assert len(rows_of(out)) == 5


def test_pairs_refuses_an_empty_prompt_file(tmp_path: Path, judge: FakeJudge) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(UsageError, match="no prompts in"):
        pairs(PairsConfig(prompts=str(empty), out=tmp_path / "o.jsonl"))
    assert not (tmp_path / "o.jsonl").exists()


def test_label_counts_resumes_and_refuses_other_inputs(tmp_path: Path, judge: FakeJudge) -> None:
    src = write_jsonl(tmp_path / "pairs.jsonl", [
        {"id": f"q{i}", "prompt": f"question {i}", "response_a": f"good {i}",
         "response_b": f"bad {i}"} for i in range(3)
    ] + [{"id": "r", "prompt": "q", "response_a": "refuse me", "response_b": "other"}])  # fmt: skip
    out = tmp_path / "labels.jsonl"
    cfg = LabelConfig(constitution=str(cai_file(tmp_path)), pairs=str(src), out=out,
                      cot=False, limit=2)  # fmt: skip
    log = Log()
    r = label(cfg, say=log.say, progress=log.progress)
    assert isinstance(r, LabelResult)
    assert (r.out, r.total, r.resumed, r.labelled, r.abstained) == (out, 2, 0, 2, 0)
    rows = rows_of(out)
    assert [x["id"] for x in rows] == ["q0", "q1"]
    # the fake prefers "good": forward 0.6/0.3, swapped 0.4/0.5 → p_chosen 5/9
    assert all(x["p_chosen"] == pytest.approx(5 / 9) and x["mode"] == "pairwise" for x in rows)
    assert [x["chosen"] for x in rows] == [[{"role": "assistant", "content": f"good {i}"}]
                                           for i in range(2)]  # fmt: skip
    assert log.ticks == [("label", 0, 2), ("label", 1, 2), ("label", 2, 2)]
    assert log.lines == ["loading judge default ..."]

    def refuses(p: str, a: str, b: str) -> tuple[float, float]:
        return (0.03, 0.02) if "refuse" in a + b else biased(p, a, b)

    judge.pair_fn = refuses
    judge.score_calls.clear()
    log = Log()
    r = label(cfg.model_copy(update={"limit": None}), say=log.say, progress=log.progress)
    assert (r.total, r.resumed, r.labelled, r.abstained) == (4, 2, 1, 1)
    assert sum(n for n, _, _ in judge.score_calls) == 4  # two pairs, both orders
    rows = rows_of(out)
    assert [x["id"] for x in rows] == ["q0", "q1", "q2", "r"]
    assert rows[-1]["abstained"] is True and rows[-1]["p_chosen"] is None
    assert log.lines[0] == f"{out}: resuming, 2 of 4 pairs already labelled"

    with pytest.raises(UsageError, match="mode") as e:  # another mode on the same file
        label(cfg.model_copy(update={"limit": None, "mode": "pointwise"}))
    assert e.value.exit_code == 2
    log = Log()
    r = label(cfg.model_copy(update={"limit": None}), say=log.say)
    assert (r.resumed, r.labelled, r.abstained) == (4, 0, 0)
    assert log.lines == [f"{out}: all 4 pairs already labelled"]


def test_label_principles_draws_and_duplicate_ids(tmp_path: Path, judge: FakeJudge) -> None:
    src = write_jsonl(tmp_path / "pairs.jsonl", [
        {"id": "q", "prompt": "Hi?", "response_a": "good", "response_b": "bad"},
    ])  # fmt: skip
    cai = str(cai_file(tmp_path))
    cfg = LabelConfig(constitution=cai, pairs=str(src), out=tmp_path / "l.jsonl",
                      principles="all", cot=False)  # fmt: skip
    r = label(cfg)
    assert r.labelled == 1
    [row] = rows_of(cfg.out)
    assert row["principles"] == ["harmless", "helpful", "honest"]
    assert json.loads((tmp_path / "l.jsonl.meta.json").read_text())["principles"] == "all"

    dup = write_jsonl(tmp_path / "dup.jsonl", [
        {"id": "q", "prompt": "Hi?", "response_a": "1", "response_b": "2"},
        {"id": "q", "prompt": "Yo?", "response_a": "3", "response_b": "4"},
    ])  # fmt: skip
    with pytest.raises(UsageError, match="duplicate pair id `q`"):
        label(LabelConfig(constitution=cai, pairs=str(dup), out=tmp_path / "d.jsonl"))
    assert not (tmp_path / "d.jsonl").exists()


def test_audit_measures_the_labels(tmp_path: Path, judge: FakeJudge) -> None:
    src = write_jsonl(tmp_path / "pairs.jsonl", [
        {"id": f"q{i}", "prompt": f"question {i}", "response_a": f"good {i}",
         "response_b": f"bad {i}"} for i in range(4)
    ])  # fmt: skip
    labels = tmp_path / "labels.jsonl"
    label(LabelConfig(constitution=str(cai_file(tmp_path)), pairs=str(src), out=labels, cot=False))
    r = audit(AuditConfig(labels=labels, format="json"))
    assert isinstance(r, AuditResult)
    assert r.report["n"] == 4 and r.report["abstention_rate"] == 0.0
    assert r.report["first_slot_rate"] == 1.0  # the fake always prefers slot A forward
    assert r.report["accuracy"] is None  # no human preference

    gold = write_jsonl(tmp_path / "gold.jsonl", [{"id": f"q{i}", "gold": "a"} for i in range(4)])
    r = audit(AuditConfig(labels=labels, gold=str(gold)))
    assert r.report["n_gold"] == 4 and r.report["accuracy"] == 1.0

    log = Log()
    # a pair file whose preferred texts none of the label rows holds
    unmatched = [{"id": "q0", "prompt": "x", "chosen": "yes", "rejected": "no"}]
    nobody = write_jsonl(tmp_path / "nobody.jsonl", unmatched)
    r = audit(AuditConfig(labels=labels, gold=str(nobody)), say=log.say)
    assert log.lines == [f"warning: no label row matched a gold preference in {nobody}"]
    assert r.report["accuracy"] is None

    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(UsageError, match="holds no label rows"):
        audit(AuditConfig(labels=empty))


def test_probe_reports_conflicts_and_redundancy(tmp_path: Path, judge: FakeJudge) -> None:
    judge.pair_fn = opinions
    cai = cai_file(tmp_path, "priority safety > helpfulness")
    src = write_jsonl(tmp_path / "probe.jsonl", [
        {"id": p["id"], "prompt": "q", "response_a": p["response_a"],
         "response_b": p["response_b"]} for p in PROBE
    ])  # fmt: skip
    log = Log()
    r = probe(ProbeConfig(constitution=str(cai), pairs=str(src)), say=log.say)
    assert isinstance(r, ProbeResult)
    assert (r.principles, r.pairs) == (3, 6)
    assert {(d.code, d.principles) for d in r.diagnostics} == {
        ("CAI901", ("harmless", "helpful")),
        ("CAI901", ("harmless", "honest")),
        ("CAI902", ("helpful", "honest")),
    }
    assert all(d.path == str(cai) for d in r.diagnostics)
    assert log.lines == ["probing 3 principles over 6 pairs with default ..."]
    r = probe(ProbeConfig(constitution=str(cai), pairs=str(src), limit=2))
    assert r.pairs == 2


def test_configs_refuse_what_the_commands_refuse(tmp_path: Path) -> None:
    base = {"constitution": "hhh-v2", "pairs": "p.jsonl", "out": tmp_path / "l.jsonl"}
    assert LabelConfig(**base).principles == "sample"
    assert LabelConfig(**base, principles="3").principles == 3  # as the command gives it
    assert LabelConfig(**base, principles=2).principles == 2
    assert LabelConfig(**base, principles="all").principles == "all"
    for bad in ("x", "0", "-1", 0, True):
        with pytest.raises(ValidationError, match="sample, all or a positive number"):
            LabelConfig(**base, principles=bad)
    with pytest.raises(ValidationError, match="'pairwise' or 'pointwise'"):
        LabelConfig(**base, mode="listwise")
    with pytest.raises(ValidationError, match="must be above 0"):
        PairsConfig(prompts="p.jsonl", out=tmp_path / "o.jsonl", temperature=0.0)
    with pytest.raises(ValidationError, match="greater than or equal to 2"):
        PairsConfig(prompts="p.jsonl", out=tmp_path / "o.jsonl", n=1)
    with pytest.raises(ValidationError, match="'human' or 'json'"):
        AuditConfig(labels=tmp_path / "l.jsonl", format="sarif")
    with pytest.raises(ValidationError, match="'human' or 'json'"):
        ProbeConfig(constitution="hhh-v2", pairs="p.jsonl", format="xml")
    with pytest.raises(ValidationError, match="Extra inputs"):
        ProbeConfig(constitution="hhh-v2", pairs="p.jsonl", batch_size=4)
    cfg = AuditConfig(labels=tmp_path / "l.jsonl")
    with pytest.raises(ValidationError, match="frozen"):
        cfg.format = "json"  # type: ignore[misc]
