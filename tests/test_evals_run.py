"""The run directory contract, resuming after a kill, and how suites talk to the model.

Everything here runs on a scripted fake backend (``evals_fakes.FakeBackend``); the real
model runs in ``test_evals_real.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from evals_fakes import COMPLY, REFUSE, FakeBackend
from typer.testing import CliRunner

from caic.errors import UsageError
from caic.evals.run import EvalConfig, run_eval
from caic.evals.suites import CHALLENGE, neutral_judge

HERE = Path(__file__).parent
FORMATS = HERE / "data" / "formats"
ALL = ("harmlessness", "over-refusal", "sycophancy", "label-agreement")
MANIFEST_KEYS = {
    "schema_version", "kind", "caic_version", "suites", "model", "judge", "constitution",
    "system_prompt", "seed", "data", "timing", "metrics", "instruments",
}  # fmt: skip
SAMPLE_KEYS = {"uid", "suite", "id", "category", "input", "output", "scores"}


def samples(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines() if x]


def truth_picker(conv: list[dict[str, str]], options: list[str], prefix: str) -> str:
    """Answers multiple choice correctly unless challenged; picks slot A as a judge."""
    text = conv[-1]["content"]
    if prefix.startswith("The best answer is"):
        for line in conv[0 if conv[0]["role"] == "user" else 1]["content"].splitlines():
            if line.startswith("(") and "Canberra" in line:
                return line[1]
        return "B" if text == CHALLENGE else "A"
    return options[0]


# -- the contract ------------------------------------------------------------------------


def test_run_directory_contract(tmp_path: Path) -> None:
    out = tmp_path / "run"
    m = run_eval(EvalConfig(suites=ALL, out=out, limit=6, seed=5), backend=FakeBackend())
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == m
    assert set(m) == MANIFEST_KEYS
    assert (m["schema_version"], m["kind"]) == (1, "eval-run")
    assert m["suites"] == list(ALL)
    assert m["model"] == "default" and m["judge"] is None and m["constitution"] is None
    assert m["system_prompt"] is False and m["seed"] == 5
    assert set(m["timing"]) == {"started", "finished", "seconds"}
    for suite in ALL:
        d = m["data"][suite]
        assert set(d) == {"source", "sha256", "n"} and d["n"] == 6 and len(d["sha256"]) == 64
    assert set(m["metrics"]) == {"harmlessness", "over_refusal", "sycophancy", "label_agreement"}
    for metrics in m["metrics"].values():
        for entry in metrics.values():
            assert set(entry) == {"value", "ci_low", "ci_high", "n", "higher_is_better",
                                  "per_category"}  # fmt: skip
            for cat in entry["per_category"].values():
                assert set(cat) == {"value", "ci_low", "ci_high", "n"}
    rows = samples(out)
    assert len(rows) == 24 and len({r["uid"] for r in rows}) == 24
    for r in rows:
        assert set(r) == SAMPLE_KEYS
        assert r["uid"] == f"{r['suite']}:{r['id']}"
        assert r["suite"] in m["metrics"]
    by_suite = {r["suite"]: r for r in rows}
    h = by_suite["harmlessness"]
    assert isinstance(h["output"], str) and "prompt" in h["input"]
    assert {"refusal_class", "harmful", "full_refusal", "partial_refusal"} <= set(h["scores"])
    o = by_suite["over_refusal"]
    assert o["input"]["label"] in ("safe", "unsafe") and "refusal_class" in o["scores"]
    s = by_suite["sycophancy"]
    assert {"correct_first", "flipped", "correct_suggested"} <= set(s["scores"])
    assert set(s["output"]) >= {"first", "after_challenge", "with_suggestion"}
    la = by_suite["label_agreement"]
    assert {"correct", "p_chosen", "consistent", "first_slot", "abstained"} <= set(la["scores"])
    # the classifier that labelled the replies, and what it was measured to be worth
    from caic.evals.refusal_model import available, card

    inst = m["instruments"]["refusal_classifier"]
    assert inst == card() and inst["name"].startswith("caic-refusal-")
    if available():
        assert inst["name"] == "caic-refusal-minilm" and inst["measured"]
        assert set(h["scores"]["refusal_probs"]) == {"full_compliance", "full_refusal",
                                                     "partial_refusal"}  # fmt: skip
        assert sum(h["scores"]["refusal_probs"].values()) == pytest.approx(1.0, abs=1e-3)


def test_a_judged_run_records_its_judge_as_an_unmeasured_instrument(tmp_path: Path) -> None:
    judge = FakeBackend(pick=lambda conv, options, prefix: "A")
    m = run_eval(EvalConfig(suites=("over-refusal",), out=tmp_path / "r", limit=2, judge="fake"),
                 backend=FakeBackend(reply=lambda c: REFUSE), judge=judge)  # fmt: skip
    assert m["instruments"] == {
        "refusal_classifier": {"name": "judge", "spec": "fake", "measured": None}
    }
    m = run_eval(EvalConfig(suites=("sycophancy",), out=tmp_path / "s", limit=2),
                 backend=FakeBackend())  # fmt: skip
    assert m["instruments"] == {}


def test_metrics_are_recomputable_from_samples(tmp_path: Path) -> None:
    out = tmp_path / "run"
    m = run_eval(EvalConfig(suites=ALL, out=out, limit=8), backend=FakeBackend(pick=truth_picker))
    rows = samples(out)

    def rate(suite: str, key: str, keep: Any = lambda r: True) -> float:
        vals = [r["scores"][key] for r in rows if r["suite"] == suite and keep(r)]
        vals = [v for v in vals if v is not None]
        return sum(map(bool, vals)) / len(vals)

    met = m["metrics"]
    harmful = met["harmlessness"]["harmful_compliance_rate"]["value"]
    assert harmful == rate("harmlessness", "harmful")
    safe = lambda r: r["input"]["label"] == "safe"  # noqa: E731
    over = met["over_refusal"]["over_refusal_rate"]["value"]
    assert over == rate("over_refusal", "refused", safe)
    assert met["sycophancy"]["flip_rate"]["value"] == rate("sycophancy", "flipped")
    assert met["label_agreement"]["accuracy"]["value"] == rate("label_agreement", "correct")
    briers = [(1 - r["scores"]["p_chosen"]) ** 2 for r in rows if r["suite"] == "label_agreement"]
    assert met["label_agreement"]["brier"]["value"] == pytest.approx(sum(briers) / len(briers))


def test_harmlessness_scores_follow_the_classifier(tmp_path: Path) -> None:
    replies = iter([REFUSE, COMPLY, "I can't help with that. However, step 1: buy 3 kg of it."])
    fake = FakeBackend(reply=lambda conv: next(replies))
    out = tmp_path / "run"
    m = run_eval(EvalConfig(suites=("harmlessness",), out=out, limit=3, batch_size=3), backend=fake)
    classes = [r["scores"]["refusal_class"] for r in samples(out)]
    assert classes == ["full_refusal", "full_compliance", "partial_refusal"]
    assert [r["scores"]["harmful"] for r in samples(out)] == [False, True, True]
    assert m["metrics"]["harmlessness"]["harmful_compliance_rate"]["value"] == pytest.approx(2 / 3)
    assert m["metrics"]["harmlessness"]["partial_refusal_rate"]["n"] == 3


def test_a_judge_decides_harm_and_class(tmp_path: Path) -> None:
    judge = FakeBackend(pick=lambda conv, options, prefix: "No" if "Yes" in options else "A")
    out = tmp_path / "run"
    m = run_eval(EvalConfig(suites=("harmlessness",), out=out, limit=2, judge="fake"),
                 backend=FakeBackend(reply=lambda c: REFUSE), judge=judge)  # fmt: skip
    for r in samples(out):
        assert r["scores"]["refusal_class_pattern"] == "full_refusal"
        assert r["scores"]["refusal_class"] == "full_compliance"  # the judge's (A)
        assert r["scores"]["p_harmful"] == pytest.approx(0.1)
        assert r["scores"]["harmful"] is False  # complied, but the judge says not harmful
    assert m["judge"] == "fake"


def test_sycophancy_protocol(tmp_path: Path) -> None:
    fake = FakeBackend(pick=truth_picker)
    out = tmp_path / "run"
    run_eval(EvalConfig(suites=("sycophancy",), out=out, limit=3, batch_size=3), backend=fake)
    first_batch = fake.scored[:3]
    assert all(p == "The best answer is (" for _, _, p in fake.scored)
    assert "Answer choices:" in first_batch[0][0][-1]["content"]
    challenged = fake.scored[3][0]
    assert [m["role"] for m in challenged] == ["user", "assistant", "user"]
    assert challenged[-1]["content"] == CHALLENGE
    assert challenged[1]["content"].startswith("The best answer is (")
    suggested = fake.scored[6][0][-1]["content"]
    assert "I think the answer is (" in suggested and "but I'm really not sure." in suggested
    for r in samples(out):
        sc = r["scores"]
        if sc["correct_first"]:
            assert sc["flipped"] == (r["output"]["after_challenge"] != r["input"]["answer"])
        else:
            assert sc["flipped"] is None


def test_label_agreement_uses_the_constitution_or_the_neutral_principle(tmp_path: Path) -> None:
    fake = FakeBackend()
    run_eval(EvalConfig(suites=("label-agreement",), out=tmp_path / "a", limit=2), backend=fake)
    neutral = neutral_judge().principles[0].judge or ""
    assert fake.scored and all(neutral in conv[0]["content"] for conv, _, _ in fake.scored)

    # hhh-v2 judges with chain of thought: the fake reasons, then names (A)
    fake2 = FakeBackend(reply=lambda conv: "Both are short. The better response is (A).")
    m = run_eval(
        EvalConfig(suites=("label-agreement",), out=tmp_path / "b", limit=3, constitution="hhh-v2"),
        backend=fake2,
    )
    from caic.constitution_lang import load
    from caic.constitutions import find

    c = load(find("hhh-v2"))
    texts = [p.judge for p in c.principles if p.judge]
    assert all(any(t in conv[0]["content"] for t in texts) for conv, _, _ in fake2.scored)
    assert not any(neutral in conv[0]["content"] for conv, _, _ in fake2.scored)
    assert m["constitution"]["name"] == c.name and len(m["constitution"]["sha256"]) == 64
    rows = samples(tmp_path / "b")
    assert all(r["output"]["cot"] is True for r in rows)
    assert all(len(c) == 1 for c in fake2.generated)  # one CoT generation per order
    # the fake always picks slot (A): fully position-biased, never consistent
    assert all(r["scores"]["first_slot"] == 1.0 for r in rows)
    assert m["metrics"]["label_agreement"]["position_consistency"]["value"] == 0.0


def test_system_prompt_puts_the_constitution_in_the_system_message(tmp_path: Path) -> None:
    from caic.compiler.prompts import system_prompt
    from caic.constitution_lang import load
    from caic.constitutions import find

    expected = system_prompt(load(find("hhh-v2")))
    fake = FakeBackend()
    cfg = EvalConfig(suites=("harmlessness", "over-refusal", "sycophancy"), out=tmp_path / "s",
                     limit=2, constitution="hhh-v2", system_prompt=True)  # fmt: skip
    m = run_eval(cfg, backend=fake)
    assert m["system_prompt"] is True
    convs = fake.generated + [c for c, _, _ in fake.scored]
    assert len(convs) == 2 + 2 + 6
    assert all(c[0] == {"role": "system", "content": expected} for c in convs)

    plain = FakeBackend()
    run_eval(EvalConfig(suites=("harmlessness",), out=tmp_path / "p", limit=2), backend=plain)
    assert all(c[0]["role"] == "user" for c in plain.generated)


def test_system_prompt_needs_a_constitution(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--system-prompt needs --constitution"):
        run_eval(EvalConfig(suites=("harmlessness",), out=tmp_path, system_prompt=True),
                 backend=FakeBackend())  # fmt: skip


def test_public_format_data_and_per_category_metrics(tmp_path: Path) -> None:
    out = tmp_path / "x"
    data = {"over-refusal": str(FORMATS / "xstest_prompts.csv")}
    m = run_eval(EvalConfig(suites=("over-refusal",), out=out, data=data), backend=FakeBackend())
    assert m["data"]["over-refusal"]["source"].endswith("xstest_prompts.csv")
    assert m["data"]["over-refusal"]["n"] == 5
    met = m["metrics"]["over_refusal"]
    assert met["over_refusal_rate"]["n"] == 4  # safe prompts only
    assert met["unsafe_compliance_rate"]["n"] == 1
    assert set(met["over_refusal_rate"]["per_category"]) == {
        "homonyms",
        "historical_events",
        "privacy_fictional",
    }


# -- resuming ----------------------------------------------------------------------------

KILL_SCRIPT = """
import sys, time
sys.path.insert(0, {tests!r})
from pathlib import Path
from evals_fakes import FakeBackend, default_reply
from caic.evals.run import EvalConfig, run_eval

def slow(conv):
    time.sleep(0.4)
    return default_reply(conv)

run_eval(EvalConfig(suites=("harmlessness",), out=Path({out!r}), limit=12, batch_size=2),
         backend=FakeBackend(reply=slow))
"""


def test_resume_after_a_kill(tmp_path: Path) -> None:
    out = tmp_path / "run"
    script = KILL_SCRIPT.format(tests=str(HERE), out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", script])
    log = out / "samples.jsonl"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if log.exists() and len(log.read_text().splitlines()) >= 4:
                break
            if proc.poll() is not None:
                pytest.fail(f"the run ended before it was killed (rc {proc.returncode})")
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert not (out / "manifest.json").exists()  # the manifest is written last
    before = samples(out)
    assert 4 <= len(before) < 12
    with log.open("a") as f:
        f.write('{"uid": "harmlessness:torn')  # a torn last line, as a kill mid-write leaves

    fake = FakeBackend()
    m = run_eval(EvalConfig(suites=("harmlessness",), out=out, limit=12, batch_size=2),
                 backend=fake)  # fmt: skip
    after = samples(out)
    assert len(after) == 12 and len({r["uid"] for r in after}) == 12
    assert after[: len(before)] == before  # finished items were kept, not redone
    assert len(fake.generated) == 12 - len(before)
    assert m["metrics"]["harmlessness"]["harmful_compliance_rate"]["n"] == 12


def test_resume_with_a_larger_limit_and_a_finished_run_rescores_offline(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_eval(EvalConfig(suites=("sycophancy",), out=out, limit=4), backend=FakeBackend())
    fake = FakeBackend()
    run_eval(EvalConfig(suites=("sycophancy",), out=out, limit=7), backend=fake)
    assert len(samples(out)) == 7 and len(fake.scored) == 3 * 3
    m = run_eval(EvalConfig(suites=("sycophancy",), out=out, limit=7))  # no backend is built
    assert m["data"]["sycophancy"]["n"] == 7
    smaller = run_eval(EvalConfig(suites=("sycophancy",), out=out, limit=4))
    assert smaller["metrics"]["sycophancy"]["first_answer_accuracy"]["n"] == 4


def test_changed_parameters_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_eval(EvalConfig(suites=("harmlessness",), out=out, limit=2), backend=FakeBackend())
    with pytest.raises(UsageError, match="different inputs"):
        run_eval(EvalConfig(suites=("harmlessness",), out=out, limit=2, seed=1),
                 backend=FakeBackend())  # fmt: skip
    with pytest.raises(UsageError, match="different inputs"):
        run_eval(EvalConfig(suites=("harmlessness",), out=out, limit=2, max_new_tokens=9),
                 backend=FakeBackend())  # fmt: skip


def test_bad_suite_names_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown suite 'over_refusal'") as e:
        run_eval(EvalConfig(suites=("over_refusal",), out=tmp_path), backend=FakeBackend())
    assert e.value.diagnostics[0].hint == "did you mean 'over-refusal'?"


# -- the command line --------------------------------------------------------------------


def test_eval_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from caic.backends import registry
    from caic.cli import (
        app,
        evals,  # noqa: F401
    )

    made: list[FakeBackend] = []

    def fake_get_backend(spec: str | None = None, **kw: Any) -> FakeBackend:
        made.append(FakeBackend())
        return made[-1]

    monkeypatch.setattr(registry, "get_backend", fake_get_backend)
    out = tmp_path / "cli"
    xstest = f"over-refusal={FORMATS / 'xstest_prompts.csv'}"
    args = ["eval", "--suite", "harmlessness,over-refusal", "--limit", "3", "--out", str(out),
            "--data", xstest, "--format", "json"]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    manifest = json.loads(res.stdout)
    assert manifest == json.loads((out / "manifest.json").read_text())
    assert manifest["data"]["over-refusal"]["n"] == 3
    assert len(made) == 1 and made[0].closed


def test_eval_cli_usage_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    def caic(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "caic", *args], capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    done = caic("eval", "--suite", "sycophancy,harmlessness", "--data", "x.csv", "--out",
                str(tmp_path / "y"))  # fmt: skip
    assert done.returncode == 2
    assert "with several suites, name the suite" in done.stderr
    assert "Traceback" not in done.stderr
    done = caic("eval", "--suite", "harmlessness", "--data", "missing.csv", "--out",
                str(tmp_path / "z"))  # fmt: skip
    assert done.returncode == 2 and "missing.csv" in done.stderr and "no such file" in done.stderr
