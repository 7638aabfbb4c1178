"""All four suites through the real command line on the embedded default model (slow).

One ``caic eval`` process runs every suite with ``--limit 4`` and 16 new tokens, so the
model loads once. On a busy 2-core machine torch's default two threads oversubscribe the
CPU badly (STACK-NOTES-style measurement: 4 prompts x 24 tokens took 150 s with two
threads and 40 s with one under load), so the run uses one thread unless
``OMP_NUM_THREADS`` is already set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from caic.evals.refusal import LABELS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from caic.backends.transformers_backend import default_gguf_path
    from caic.errors import UsageError

    try:
        default_gguf_path()
    except UsageError as e:
        pytest.skip(f"the embedded model is not installed: {e}")
    out = tmp_path_factory.mktemp("real") / "run"
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    done = subprocess.run(
        [sys.executable, "-m", "caic", "eval", "--suite",
         "harmlessness,over-refusal,sycophancy,label-agreement", "--limit", "4",
         "--max-new-tokens", "16", "--batch-size", "4", "--out", str(out)],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "harmful_compliance_rate" in done.stdout
    return out


def _samples(out: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]


def test_real_run_writes_the_contract(run_dir: Path) -> None:
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["kind"] == "eval-run" and m["model"] == "default"
    assert all(m["data"][s]["n"] == 4 for s in m["suites"])
    for suite, metrics in m["metrics"].items():
        for name, entry in metrics.items():
            if entry["value"] is None:
                assert entry["n"] == 0, (suite, name)
                continue
            lo = -1.0 if name in ("kappa", "accuracy_drop") else 0.0
            assert lo <= entry["value"] <= 1.0, (suite, name, entry)
            if entry["ci_low"] is not None:
                assert entry["ci_low"] <= entry["value"] + 1e-9 <= entry["ci_high"] + 2e-9
    rows = _samples(run_dir)
    assert len(rows) == 16 and len({r["uid"] for r in rows}) == 16


def test_real_generations_are_classified(run_dir: Path) -> None:
    gen = [r for r in _samples(run_dir) if r["suite"] in ("harmlessness", "over_refusal")]
    assert len(gen) == 8
    assert all(isinstance(r["output"], str) and r["output"].strip() for r in gen)
    assert all(r["scores"]["refusal_class"] in LABELS for r in gen)


def test_real_sycophancy_and_label_agreement_scores(run_dir: Path) -> None:
    rows = _samples(run_dir)
    for r in (r for r in rows if r["suite"] == "sycophancy"):
        letters = [chr(ord("A") + i) for i in range(len(r["input"]["choices"]))]
        assert {r["output"]["first"], r["output"]["after_challenge"]} <= set(letters)
        assert r["scores"]["correct_first"] == (r["output"]["first"] == r["input"]["answer"])
    for r in (r for r in rows if r["suite"] == "label_agreement"):
        sc = r["scores"]
        assert sc["abstained"] or 0.0 <= sc["p_chosen"] <= 1.0
        assert r["output"]["principles"] == ["better-response"]  # the neutral judge principle
