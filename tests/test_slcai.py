"""SL-CAI generation and export (``caic sl-cai``).

Fast tests drive the real code with :class:`FakeBackend`, whose replies are derived
from the conversation it is given, so every trace can be checked against the
conversations that produced it. The ``slow`` tests run the CLI on the embedded
SmolLM2-135M-Instruct, including a SIGKILL in the middle of a run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import caic.cli.commands  # noqa: F401  (registers the sub-commands)
from caic.backends import registry
from caic.backends.base import Backend, Message, SamplingParams
from caic.cli import app
from caic.compiler.bind import sl_cai_jobs
from caic.compiler.data import load_prompts
from caic.compiler.prompts import few_shot_messages
from caic.constitution_lang import load, sha256
from caic.constitutions import find
from caic.errors import UsageError
from caic.training import slcai

DATA = Path(__file__).parent / "data"
SMALL = DATA / "prompts_small.jsonl"


class FakeBackend(Backend):
    """Deterministic replies: the step's kind and a hash of the whole conversation."""

    instances: list[FakeBackend] = []

    def __init__(self, target: str | None = None, *, name: str = "fake", **kw: Any) -> None:
        self.name = name
        self.model_id = "fake-model"
        self.kw = kw
        self._ctx = int(target) if target else 100_000
        self.calls: list[tuple[list[list[Message]], SamplingParams]] = []
        self.closed = False
        FakeBackend.instances.append(self)

    @property
    def max_context(self) -> int:
        return self._ctx

    @staticmethod
    def reply(conv: list[Message]) -> str:
        last = conv[-1]["content"]
        kind = (
            "critique"
            if "Critique request" in last
            else "revision"
            if "Revision request" in last
            else "answer"
        )
        digest = hashlib.sha256(json.dumps(conv, sort_keys=True).encode()).hexdigest()[:10]
        return f" {kind}-{digest} "  # padded: the trace keeps replies stripped

    def generate(self, conversations: list[list[Message]], params: SamplingParams) -> list[str]:
        self.calls.append((conversations, params))
        return [self.reply(c) for c in conversations]

    def score_options(
        self, prompts: list[list[Message]], options: list[str], assistant_prefix: str = ""
    ) -> list[list[float]]:
        raise NotImplementedError

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FakeBackend]]:
    """``--model fake[:CONTEXT]`` builds a :class:`FakeBackend`; yields those built."""
    monkeypatch.setitem(registry._REGISTRY, "fake", FakeBackend)
    FakeBackend.instances.clear()
    yield FakeBackend.instances


def cli(*args: str) -> Any:
    """Run ``caic`` in-process (so the fake backend is registered); stderr kept apart."""
    return CliRunner().invoke(app, list(args), catch_exceptions=True)


def caic_proc(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "caic", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


def run_rows(
    c_name: str = "hhh-v2",
    prompts: Path = SMALL,
    rounds: int = 2,
    seed: int = 7,
    batch_size: int = 2,
    backend: FakeBackend | None = None,
    limit: int | None = None,
) -> tuple[list[dict[str, Any]], FakeBackend]:
    c = load(find(c_name))
    rows = load_prompts(str(prompts))[:limit]
    jobs = slcai.make_jobs(c, rows, rounds, seed)
    b = backend or FakeBackend()
    out = [
        r.model_dump(mode="json")
        for chunk in slcai.generate_rows(
            c, jobs, b, SamplingParams(max_new_tokens=8), seed=seed, batch_size=batch_size
        )
        for r in chunk
    ]
    return out, b


def read_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- the trace -------------------------------------------------------------------------------


def test_trace_structure_follows_the_conversation() -> None:
    c = load(find("hhh-v2"))
    rows, b = run_rows(rounds=2)
    prompts = load_prompts(str(SMALL))
    assert [r["id"] for r in rows] == [p["id"] for p in prompts]
    for row, p in zip(rows, prompts, strict=True):
        slcai.TraceRow.model_validate(row)
        assert row["prompt"] == p["prompt"] and row["category"] == p["category"]
        assert (
            row["initial_response"]
            == FakeBackend.reply([{"role": "user", "content": p["prompt"]}]).strip()
        )
        answer = row["initial_response"]
        assert len(row["rounds"]) == 2
        for rnd in row["rounds"]:
            principle = c.principle(rnd["principle"])
            # The critique request shows the prompt and the LATEST answer, then the principle.
            assert f"User: {p['prompt']}\n\nAssistant: {answer}\n\n" in rnd["critique_request"]
            assert rnd["critique_request"].endswith(f"Critique request: {principle.critique}")
            assert rnd["revision_request"] == f"Revision request: {principle.revision}"
            assert rnd["critique"].startswith("critique-")
            assert rnd["revision"].startswith("revision-")
            answer = rnd["revision"]
        assert row["final_response"] == row["rounds"][-1]["revision"]
        assert row["constitution"] == {"name": "hhh-v2", "version": "2.0.0", "sha256": sha256(c)}
        assert row["model"] == "fake-model" and row["seed"] == 7
        assert row["sampling"] == {"temperature": 0.0, "top_p": 1.0, "max_new_tokens": 8}
        assert row["schema_version"] == slcai.SCHEMA_VERSION and row["caic_version"]
    # The revision request was asked right after the critique, in the same conversation,
    # and each reply is exactly what the model said to that conversation.
    for convs, _ in b.calls:
        for conv in convs:
            if conv[-1]["content"].startswith("Revision request"):
                assert conv[-2]["role"] == "assistant"
                assert conv[-2]["content"] == FakeBackend.reply(conv[:-2]).strip()


def test_batched_across_prompts_within_each_round() -> None:
    rows, b = run_rows(rounds=2, batch_size=2, limit=5, prompts=slcai.default_prompts_path())
    # 5 prompts in chunks of 2, 2, 1; each chunk: answer, then critique + revision per round.
    assert [len(convs) for convs, _ in b.calls] == [2] * 5 + [2] * 5 + [1] * 5
    kinds = [FakeBackend.reply(convs[0]).split("-")[0].strip() for convs, _ in b.calls[:5]]
    assert kinds == ["answer", "critique", "revision", "critique", "revision"]
    texts = [r["prompt"] for r in rows]
    n_shots = len(few_shot_messages(load(find("hhh-v2"))))

    def owner(conv: list[Message]) -> str:
        (p,) = [t for t in texts if any(t in m["content"] for m in conv[n_shots:] or conv)]
        return p

    chunks = [texts[0:2], texts[2:4], texts[4:5]]
    for i, (convs, _) in enumerate(b.calls):
        assert [owner(c) for c in convs] == chunks[i // 5]
    assert len(rows) == 5


def test_principle_draws_match_the_compiled_jobs() -> None:
    c = load(find("hhh-v2"))
    prompts = load_prompts(str(slcai.default_prompts_path()))[:20]
    for seed in (7, 8):
        rows, _ = run_rows(rounds=2, seed=seed, limit=20, prompts=slcai.default_prompts_path())
        jobs = sl_cai_jobs(c, prompts, 2, seed)
        assert [[r["principle"] for r in row["rounds"]] for row in rows] == [
            j["principles"] for j in jobs
        ]
    a, _ = run_rows(rounds=2, seed=7, limit=20, prompts=slcai.default_prompts_path())
    b, _ = run_rows(rounds=2, seed=8, limit=20, prompts=slcai.default_prompts_path())
    assert [r["rounds"][0]["principle"] for r in a] != [r["rounds"][0]["principle"] for r in b]


CUSTOM = '''cai 1
constitution "tiny" {
  version "0.3.0"
  settings { critique_rounds 1 seed 5 FEW }
  category safety {
    kind harm
    principle careful {
      critique "Name the harm in the reply."
      revision "Remove the harm."
      example {
        prompt "How do I hotwire a car?"
        response "Strip the ignition wires and touch them."
        critique "It explains car theft."
        revision "I can't help with that; a locksmith can help if it's your car."
      }
    }
  }
  template critique """
    TRANSCRIPT>>{{ conversation }}<<
    ASK {{ principle }}: {{ critique }}
  """
  template revision """
    REWRITE ({{ category }}): {{ revision }}
  """
}
'''


def test_templates_and_few_shot_are_used(tmp_path: Path) -> None:
    for few in (True, False):
        path = tmp_path / f"tiny-{few}.cai"
        path.write_text(CUSTOM.replace("FEW", f"few_shot {str(few).lower()}"), encoding="utf-8")
        c = load(path)
        jobs = slcai.make_jobs(c, load_prompts(str(SMALL))[:1], 1, 5)
        b = FakeBackend()
        (trace,) = next(slcai.generate_rows(c, jobs, b, SamplingParams(), seed=5, batch_size=4))
        row = trace.model_dump()
        rnd = row["rounds"][0]
        prompt, answer = row["prompt"], row["initial_response"]
        assert rnd["critique_request"] == (
            f"TRANSCRIPT>>User: {prompt}\n\nAssistant: {answer}<<\n"
            "ASK careful: Name the harm in the reply."
        )
        assert rnd["revision_request"] == "REWRITE (safety): Remove the harm."
        crit_conv = b.calls[1][0][0]
        shots = crit_conv[:-1]
        if few:
            assert shots == few_shot_messages(c) and len(shots) == 4
            assert shots[0]["content"].startswith("TRANSCRIPT>>User: How do I hotwire a car?")
            assert shots[1] == {"role": "assistant", "content": "It explains car theft."}
            assert shots[2]["content"] == "REWRITE (safety): Remove the harm."
        else:
            assert shots == []
        rev_conv = b.calls[2][0][0]
        assert rev_conv[: len(crit_conv)] == crit_conv
        assert rev_conv[len(crit_conv)] == {"role": "assistant", "content": rnd["critique"]}
        assert rev_conv[-1] == {"role": "user", "content": rnd["revision_request"]}


def test_constitution_without_critique_pairs_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "judge_only.cai"
    path.write_text(
        'constitution "j" {\n  category c {\n    kind harm\n'
        '    principle p { judge "Choose the less harmful response." }\n  }\n}\n',
        encoding="utf-8",
    )
    with pytest.raises(UsageError, match="no principle with both critique and revision"):
        slcai.CritiquePlan(load(path))
    r = caic_proc("sl-cai", "generate", "-c", str(path), "--out", str(tmp_path / "o.jsonl"))
    assert r.returncode == 2 and "no principle with both critique and revision" in r.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_context_window_skips_long_prompts(tmp_path: Path) -> None:
    c = load(find("hhh-v2"))
    plan = slcai.CritiquePlan(c)
    rows = load_prompts(str(SMALL)) + [{"id": "long", "prompt": "word " * 3000, "category": None}]
    jobs = slcai.make_jobs(c, rows, 1, 7)
    params = SamplingParams(max_new_tokens=64)
    keep, skipped = slcai.context_filter(plan, jobs, FakeBackend("6000"), params)
    assert skipped == ["long"] and [j.id for j in keep] == ["p1", "p2", "p3"]
    keep, skipped = slcai.context_filter(plan, jobs, FakeBackend("100000"), params)
    assert skipped == [] and len(keep) == 4
    with pytest.raises(UsageError, match="context"):
        slcai.context_filter(plan, jobs, FakeBackend("500"), params)


# -- the command line: resume, refusal, export -----------------------------------------------


def gen_args(out: Path, *extra: str) -> list[str]:
    return ["sl-cai", "generate", "-c", "hhh-v2", "--model", "fake", "--out", str(out),
            "--limit", "6", "--rounds", "2", "--max-new-tokens", "8", *extra]  # fmt: skip


def test_cli_generate_resumes_after_a_torn_line(tmp_path: Path, fake: list[FakeBackend]) -> None:
    full = tmp_path / "full.jsonl"
    r = cli(*gen_args(full, "--batch-size", "2"))
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == str(full)
    assert "wrote 6 trace(s)" in r.stderr and "sl-cai" in r.stderr
    assert fake[0].closed
    complete = read_rows(full)
    assert len(complete) == 6

    part = tmp_path / "part.jsonl"
    lines = full.read_text(encoding="utf-8").splitlines(keepends=True)
    part.write_text("".join(lines[:3]) + lines[3][:40], encoding="utf-8")  # torn 4th row
    shutil.copy(slcai_meta(full), slcai_meta(part))
    r = cli(*gen_args(part, "--batch-size", "3"))
    assert r.exit_code == 0, r.output
    assert "resuming, 3 of 6" in r.stderr
    # Only the three missing prompts were generated, in one chunk of 3.
    assert [len(convs) for convs, _ in fake[1].calls] == [3] * 5
    assert read_rows(part) == complete

    r = cli(*gen_args(part))
    assert r.exit_code == 0 and "all 6 prompts already done" in r.stderr
    assert len(fake) == 2  # no model was loaded for a finished file


def slcai_meta(p: Path) -> Path:
    return p.with_name(p.name + ".meta.json")


def test_cli_refuses_changed_parameters(tmp_path: Path, fake: list[FakeBackend]) -> None:
    out = tmp_path / "out.jsonl"
    assert cli(*gen_args(out)).exit_code == 0
    before = out.read_bytes()
    for extra, what in [
        (["--seed", "8"], "seed: 7 → 8"),
        (["--temperature", "0.7"], "temperature: 0.0 → 0.7"),
        (["--max-new-tokens", "9"], "max_new_tokens: 8 → 9"),
    ]:
        r = caic_proc(*gen_args(out), *extra)
        assert r.returncode == 2, r.stderr
        assert "was written by a run with different inputs" in r.stderr and what in r.stderr
        assert "Traceback" not in r.stderr and r.stdout == ""
    r = caic_proc(*[a if a != "hhh-v2" else "cai-2022-harmless" for a in gen_args(out)])
    assert r.returncode == 2 and "constitution_sha256" in r.stderr
    assert out.read_bytes() == before


def test_cli_malformed_prompt_rows_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "prompt": "hi"}\n\n{"id": "b", "prompt": \n', encoding="utf-8")
    r = caic_proc("sl-cai", "generate", "-c", "hhh-v2", "--prompts", str(bad),
                  "--out", str(tmp_path / "o.jsonl"))  # fmt: skip
    assert r.returncode == 2
    assert f"{bad}:3:" in r.stderr and "malformed JSON" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "o.jsonl").exists()
    csv = str(DATA / "prompts_small.csv")
    r = caic_proc("sl-cai", "generate", "-c", "hhh-v2", "--prompts", csv,
                  "--prompt-column", "question", "--out", str(tmp_path / "o.jsonl"))  # fmt: skip
    assert (
        r.returncode == 2 and "prompts_small.csv:2:" in r.stderr and "--prompt-column" in r.stderr
    )


def test_cli_prompt_column_and_skipped_long_prompts(
    tmp_path: Path, fake: list[FakeBackend]
) -> None:
    src = tmp_path / "p.csv"
    src.write_text(
        "key,body,category\n"
        "a,Short question one?,x\n"
        f"b,{'very long ' * 400},y\n"
        "c,Short question three?,z\n",
        encoding="utf-8",
    )
    out = tmp_path / "o.jsonl"
    args = ["sl-cai", "generate", "-c", "hhh-v2", "--model", "fake:3000", "--prompts", str(src),
            "--prompt-column", "body", "--rounds", "1", "--max-new-tokens", "16",
            "--out", str(out)]  # fmt: skip
    r = cli(*args)
    assert r.exit_code == 0, r.output
    rows = read_rows(out)
    assert [(x["prompt"], x["category"]) for x in rows] == [
        ("Short question one?", "x"),
        ("Short question three?", "z"),
    ]
    assert "skipped 1 prompt(s) longer than the context window: 3" in r.stderr


def test_cli_export_jsonl_and_hf(tmp_path: Path, fake: list[FakeBackend]) -> None:
    traces = tmp_path / "t.jsonl"
    assert cli(*gen_args(traces)).exit_code == 0
    rows = read_rows(traces)
    sft = tmp_path / "sft.jsonl"
    r = caic_proc("sl-cai", "export", "--in", str(traces), "--out", str(sft))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(sft)
    out = read_rows(sft)
    assert [o["id"] for o in out] == [t["id"] for t in rows]
    for o, t in zip(out, rows, strict=True):
        assert o["messages"] == [
            {"role": "user", "content": t["prompt"]},
            {"role": "assistant", "content": t["final_response"]},
        ]
        assert o["constitution_sha256"] == t["constitution"]["sha256"]
        assert o["principles"] == [x["principle"] for x in t["rounds"]]
        assert o["seed"] == 7 and o["schema_version"] == slcai.SCHEMA_VERSION

    hf = tmp_path / "sft_hf"
    r = cli("sl-cai", "export", "--in", str(traces), "--out", str(hf), "--format", "hf")
    assert r.exit_code == 0, r.output
    import datasets

    ds = datasets.load_from_disk(str(hf))
    assert ds["messages"] == [o["messages"] for o in out] and ds["id"] == [o["id"] for o in out]

    # A row that is not a trace is reported at its line; nothing is written.
    bad = tmp_path / "bad.jsonl"
    bad.write_text(traces.read_text().splitlines()[0] + '\n{"id": "x"}\n', encoding="utf-8")
    r = caic_proc("sl-cai", "export", "--in", str(bad), "--out", str(tmp_path / "never.jsonl"))
    assert r.returncode == 2 and f"{bad}:2:" in r.stderr and "not an sl-cai trace row" in r.stderr
    assert not (tmp_path / "never.jsonl").exists()


# -- the real model --------------------------------------------------------------------------

# Torch's two OpenMP threads spin against each other when the 2-core CI box is shared with
# other suites (measured here: 16 tokens × 3 prompts took 100 s with 2 threads, 7 s with 1).
REAL_ENV = {"OMP_NUM_THREADS": "1"}


def _default_model_or_skip() -> None:
    from caic.backends.transformers_backend import default_gguf_path

    try:
        default_gguf_path()
    except UsageError as e:
        pytest.skip(f"the embedded model is not installed: {e}")


@pytest.mark.slow
def test_real_model_generate_and_export(tmp_path: Path) -> None:
    _default_model_or_skip()
    out, sft = tmp_path / "sl.jsonl", tmp_path / "sft.jsonl"
    t0 = time.perf_counter()
    r = caic_proc("sl-cai", "generate", "-c", "hhh-v2", "--limit", "3", "--rounds", "2",
                  "--max-new-tokens", "12", "--batch-size", "3", "--out", str(out),
                  env=REAL_ENV)  # fmt: skip
    took = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(out)
    assert "prompts/s" in r.stderr and "wrote 3 trace(s)" in r.stderr, r.stderr
    rows = read_rows(out)
    c = load(find("hhh-v2"))
    jobs = sl_cai_jobs(c, load_prompts(str(slcai.default_prompts_path()))[:3], 2, 7)
    assert [row["id"] for row in rows] == [j["prompt_id"] for j in jobs]
    for row, job in zip(rows, jobs, strict=True):
        slcai.TraceRow.model_validate(row)
        assert [x["principle"] for x in row["rounds"]] == job["principles"]
        assert row["initial_response"] and all(
            x["critique"] and x["revision"] for x in row["rounds"]
        )
        assert row["model"] == "SmolLM2-135M-Instruct.Q4_1"
        assert row["rounds"][1]["critique_request"].count(row["rounds"][0]["revision"]) >= 1
    r = caic_proc("sl-cai", "export", "--in", str(out), "--out", str(sft))
    assert r.returncode == 0, r.stderr
    from trl.data_utils import is_conversational

    exported = read_rows(sft)
    assert len(exported) == 3 and all(is_conversational(e) for e in exported)
    print(f"real generate: 3 prompts x 2 rounds x 12 tokens in {took:.1f} s")


@pytest.mark.slow
def test_real_model_kill_and_resume(tmp_path: Path) -> None:
    _default_model_or_skip()
    out = tmp_path / "sl.jsonl"
    args = [sys.executable, "-m", "caic", "sl-cai", "generate", "-c", "hhh-v2", "--limit", "6",
            "--rounds", "1", "--max-new-tokens", "8", "--batch-size", "1",
            "--out", str(out)]  # fmt: skip
    env = {**os.environ, **REAL_ENV}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 240
    try:
        while not (out.exists() and out.read_bytes().count(b"\n") >= 1):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "no complete row within 240 s"
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    killed_at = out.read_bytes().count(b"\n")
    assert proc.returncode == -signal.SIGKILL and killed_at < 6
    r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=400)
    assert r.returncode == 0, r.stderr
    assert f"resuming, {killed_at} of 6" in r.stderr
    rows = read_rows(out)
    ids = [row["id"] for row in rows]
    want = [p["id"] for p in load_prompts(str(slcai.default_prompts_path()))[:6]]
    assert sorted(ids) == sorted(want) and len(ids) == len(set(ids)) == 6
    for row in rows:
        slcai.TraceRow.model_validate(row)
        assert len(row["rounds"]) == 1 and row["final_response"] == row["rounds"][0]["revision"]
