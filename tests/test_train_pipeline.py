"""``caic pipeline run``: the stage engine (skip, rerun on change, resume) and the real pipeline.

The engine tests use stub stages that write files, so they run in milliseconds; the slow test
runs ``training/configs/pipeline-smoke.yaml`` end to end on the embedded model and reruns it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from caic.errors import UsageError
from caic.training.pipeline import Stage, execute

ROOT = Path(__file__).resolve().parent.parent


class Counter:
    def __init__(self) -> None:
        self.calls: list[str] = []


def _chain(run: Path, seen: Counter, param: int = 1, crash_in: str | None = None) -> list[Stage]:
    """a: writes a.txt from ``param``; b: appends lines to b.txt from a.txt (resumable)."""
    a, b = run / "a.txt", run / "b.txt"

    def do_a() -> None:
        seen.calls.append("a")
        a.write_text(f"param={param}\n")

    def do_b() -> None:
        seen.calls.append("b")
        have = b.read_text().splitlines() if b.exists() else []
        with b.open("a") as f:
            for i in range(len(have), 3):
                if crash_in == "b" and i == 1:
                    raise KeyboardInterrupt  # killed half way
                f.write(f"{a.read_text().strip()} row {i}\n")

    return [
        Stage("a", do_a, [a], [], {"param": param}),
        Stage("b", do_b, [b], [a], {}),
    ]


def test_rerun_skips_unchanged_stages(tmp_path: Path) -> None:
    seen = Counter()
    assert execute(_chain(tmp_path, seen), tmp_path, log=lambda _: None) == {"a": "ran", "b": "ran"}
    assert execute(_chain(tmp_path, seen), tmp_path, log=lambda _: None) == {
        "a": "skipped",
        "b": "skipped",
    }
    assert seen.calls == ["a", "b"]
    rec = json.loads((tmp_path / "stages" / "b.json").read_text())
    assert rec["status"] == "done" and str(tmp_path / "b.txt") in rec["outputs"]


def test_changed_parameter_reruns_the_stage_and_everything_downstream(tmp_path: Path) -> None:
    seen = Counter()
    execute(_chain(tmp_path, seen, param=1), tmp_path, log=lambda _: None)
    what = execute(_chain(tmp_path, seen, param=2), tmp_path, log=lambda _: None)
    assert what == {"a": "ran", "b": "ran"}
    # b started over from empty outputs: no rows of the old run are left
    assert (tmp_path / "b.txt").read_text().splitlines() == [f"param=2 row {i}" for i in range(3)]


def test_interrupted_stage_resumes_keeping_its_partial_output(tmp_path: Path) -> None:
    seen = Counter()
    with pytest.raises(KeyboardInterrupt):
        execute(_chain(tmp_path, seen, crash_in="b"), tmp_path, log=lambda _: None)
    assert (tmp_path / "b.txt").read_text() == "param=1 row 0\n"
    assert json.loads((tmp_path / "stages" / "b.json").read_text())["status"] == "running"
    what = execute(_chain(tmp_path, seen), tmp_path, log=lambda _: None)
    assert what == {"a": "skipped", "b": "resumed"}
    assert (tmp_path / "b.txt").read_text().splitlines() == [f"param=1 row {i}" for i in range(3)]


def test_tampered_output_is_rebuilt(tmp_path: Path) -> None:
    seen = Counter()
    execute(_chain(tmp_path, seen), tmp_path, log=lambda _: None)
    (tmp_path / "a.txt").write_text("edited by hand\n")
    what = execute(_chain(tmp_path, seen), tmp_path, log=lambda _: None)
    assert what["a"] == "ran" and what["b"] == "skipped"  # a's rebuilt output is identical again
    (tmp_path / "b.txt").unlink()
    assert execute(_chain(tmp_path, seen), tmp_path, log=lambda _: None)["b"] == "ran"


def test_force_reruns_from_a_stage(tmp_path: Path) -> None:
    seen = Counter()
    execute(_chain(tmp_path, seen), tmp_path, log=lambda _: None)
    what = execute(_chain(tmp_path, seen), tmp_path, force=["a"], log=lambda _: None)
    assert what == {"a": "ran", "b": "ran"}
    with pytest.raises(UsageError, match="no stage `c`"):
        execute(_chain(tmp_path, seen), tmp_path, force=["c"], log=lambda _: None)


def test_pipeline_stage_plan_follows_the_method(tmp_path: Path) -> None:
    from caic.training.pipeline import cai_stages, load_pipeline

    cfg = load_pipeline(ROOT / "training/configs/pipeline-smoke.yaml", [f"run_dir={tmp_path}"])
    names = [s.name for s in cai_stages(cfg, log=lambda _: None)]
    assert names == ["sl_cai", "export", "sft", "pairs", "label", "rm", "policy"]
    dpo = load_pipeline(
        ROOT / "training/configs/pipeline-smoke.yaml",
        [
            f"run_dir={tmp_path}",
            "policy.method=dpo",
            "policy.config=training/configs/dpo-smoke.yaml",
            "policy.overrides={train.max_steps: 1}",
            "eval.enabled=true",
        ],
    )
    stages = cai_stages(dpo, log=lambda _: None)
    assert [s.name for s in stages] == [
        "sl_cai",
        "export",
        "sft",
        "pairs",
        "label",
        "policy",
        "eval",
    ]
    policy = stages[-2]
    assert policy.params["model"] == str(tmp_path.resolve() / "sft")  # DPO starts from SFT
    assert policy.params["data"] == str(tmp_path.resolve() / "labels.jsonl")


@pytest.mark.slow
def test_smoke_pipeline_runs_end_to_end_and_reruns_as_a_no_op(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from caic.training.pipeline import run_pipeline

    # one thread per process (see tests/test_train_smoke.py): the generation and labelling
    # subprocesses read OMP_NUM_THREADS, the in-process training stages cpu_threads
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    threads = [f"{s}.overrides.train.cpu_threads=1" for s in ("sft", "rm", "policy")]
    before = torch.get_num_threads()
    run = tmp_path / "pipe"
    lines: list[str] = []
    try:
        run_pipeline(
            ROOT / "training/configs/pipeline-smoke.yaml",
            [f"run_dir={run}", *threads],
            log=lines.append,
        )
    finally:
        torch.set_num_threads(before)
    for name in ("sl_cai.jsonl", "sft.jsonl", "pairs.jsonl", "labels.jsonl"):
        assert (run / name).stat().st_size > 0, name
    for name in ("sft", "rm", "policy"):
        assert (run / name / "run.json").is_file(), name
    policy = json.loads((run / "policy" / "run.json").read_text())
    assert policy["kind"] == "rl"
    assert policy["base_model"]["adapters"] == [str(run.resolve() / "sft")]
    again: list[str] = []
    run_pipeline(
        ROOT / "training/configs/pipeline-smoke.yaml",
        [f"run_dir={run}", *threads],
        log=again.append,
    )
    assert [x for x in again if x.startswith("[")] == [
        f"[{s}] unchanged, skipped"
        for s in ("sl_cai", "export", "sft", "pairs", "label", "rm", "policy")
    ]
    # Turning the eval on runs only the eval stage: run_eval on the policy, in a child.
    evals = [
        "eval.enabled=true",
        "eval.limit=2",
        "eval.suites=[over-refusal]",
        "eval.max_new_tokens=8",
    ]
    third: list[str] = []
    run_pipeline(
        ROOT / "training/configs/pipeline-smoke.yaml",
        [f"run_dir={run}", *threads, *evals],
        log=third.append,
    )
    assert [x for x in third if x.startswith("[") and "skipped" not in x][0] == "[eval] running"
    manifest = json.loads((run / "eval" / "manifest.json").read_text())
    assert manifest["kind"] == "eval-run" and "policy" in manifest["model"]
