"""``caic pipeline run FILE.yaml``: the two stages of Constitutional AI end to end.

    sl_cai (generate) → export → sft → pairs (from the SFT model) → label → rm → policy
    (rl or dpo) → eval (optional)

Every stage writes into the run directory. Before a stage runs, caic computes its fingerprint:
the stage's parameters and the sha256 of every input file or folder (so an upstream change
reaches everything downstream). ``stages/NAME.json`` records the fingerprint, a status
(``running`` / ``done``) and the sha256 of the outputs. On a rerun a stage is skipped when it
is ``done`` with the same fingerprint and its outputs are unchanged; a ``running`` stage with
the same fingerprint was interrupted and is resumed (generation and labelling append to their
JSONL, training continues from its checkpoints); a stage whose fingerprint changed starts over
from empty outputs.

The generation, labelling and eval stages call their stage functions (``slcai_job.generate``,
``rlaif_job.pairs`` / ``label``, ``evals.run.run_eval``) with their configs in a spawned child
process (:func:`caic.spawn.run_in_child`), each with its own memory; training runs
in-process.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from caic.errors import CaicError, usage_error
from caic.evals.run import EvalConfig
from caic.io import dumps_json, sha256_file, write_text_atomic
from caic.training import rlaif_job, slcai_job
from caic.training.config import apply_overrides, read_yaml, validate
from caic.training.rlaif_job import LabelConfig, PairsConfig
from caic.training.slcai_job import ExportConfig, GenerateConfig

Log = Callable[[str], None]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class SLCAIStage(_Strict):
    """``caic sl-cai generate`` settings."""

    limit: int | None = Field(default=None, ge=1)
    """Only the first N prompts; ``null`` for all (a real run wants all; the smoke config
    sets 4)."""
    rounds: int | None = Field(default=None, ge=1, le=8)
    """Critique-revision rounds K; ``null`` takes the constitution's setting."""
    max_new_tokens: int = Field(default=256, ge=1)
    """Bound on each answer, critique and revision; 256 tokens holds a full paragraph-length
    revision without letting a rambling model run on."""
    batch_size: int = Field(default=16, ge=1)
    """Prompts generated together (batching is what makes a CPU fast)."""
    temperature: float = Field(default=0.0, ge=0.0)
    """0 = greedy, so a rerun reproduces the data exactly."""


class TrainStage(_Strict):
    """A training stage: a ``caic train`` config file plus overrides."""

    config: str
    """The YAML config of the trainer (e.g. ``training/configs/sft-smoke.yaml``)."""
    overrides: dict[str, Any] = {}
    """Dotted-key overrides applied on top (``{train.max_steps: 2}``); the pipeline itself sets
    ``data``, ``model``, ``output_dir``, ``constitution`` and ``seed``."""


class PairsStage(_Strict):
    """``caic rlaif pairs`` settings: completions sampled from the SFT model."""

    limit: int | None = Field(default=None, ge=1)
    """Only the first N prompts; ``null`` for all (the smoke config sets 4)."""
    n: int = Field(default=2, ge=2, le=8)
    """Completions per prompt; 2 makes one pair, the unit the judge labels (more give more
    pairs per prompt at more generation cost)."""
    temperature: float = Field(default=1.0, gt=0.0)
    """Sampling temperature: two different completions are the point."""
    max_new_tokens: int = Field(default=256, ge=1)
    """Bound on each completion; 256, as for SL-CAI, so pairs are comparable in length to
    the revisions the SFT model learned."""


class LabelStage(_Strict):
    """``caic rlaif label`` settings."""

    judge: str | None = None
    """Judge backend spec; ``null`` = the embedded default model (the CAI paper used a separate
    feedback model; a stronger judge gives better labels)."""
    principles: str = "sample"
    """``sample`` (one draw per pair, as the CAI paper did: cheap and, over many pairs,
    covers the constitution by its weights), ``all``, or a number of draws."""
    mode: Literal["pairwise", "pointwise"] | None = None
    """Judging mode; ``null`` takes the constitution's setting."""
    cot: bool | None = None
    """Let the judge reason before its verdict (clamped soft labels); ``null`` takes the
    constitution's setting. Off makes labelling one forward pass per pair and order."""
    cot_max_new_tokens: int = Field(default=256, ge=1)
    """Bound on the judge's reasoning when ``cot`` is on."""
    batch_size: int = Field(default=16, ge=1)
    """Pairs judged per call; 16 because batching is what makes a CPU fast (STACK-NOTES:
    8.8 tok/s at batch 1, 64 at batch 16) and 16 pairs fit a laptop's memory."""


class PolicyStage(TrainStage):
    """The stage-2 policy: RL against the reward model, or DPO on the labels."""

    method: Literal["rl", "dpo"] = "rl"
    """``rl`` (GRPO/RLOO against the reward model; the paper's RL-CAI) or ``dpo`` (directly on
    the labelled pairs; no reward model needed, so the rm stage is skipped)."""


class EvalStage(_Strict):
    """``caic eval`` on the final policy (optional)."""

    enabled: bool = False
    """Off by default: the eval suites take minutes on a CPU."""
    suites: list[str] = ["harmlessness", "over-refusal"]
    """Suites to run (``caic eval --suite``); the two generating suites by default."""
    limit: int | None = Field(default=None, ge=1)
    """At most N items per suite; ``null`` runs each suite's whole data set."""
    max_new_tokens: int = Field(default=256, ge=1)
    """Bound on each answer; 256 is enough to tell a refusal from compliance."""


class PipelineConfig(_Strict):
    """One YAML file describing a whole CAI run."""

    run_dir: str = "runs/pipeline"
    """Where every stage's outputs and the stage records go; under ``runs/``, which git
    ignores."""
    constitution: str = "hhh-v2"
    """The constitution (path or shipped name) every stage uses; ``hhh-v2``, the shipped one
    with explicit priorities, by default."""
    prompts: str | None = None
    """Red-team prompts (JSONL/CSV/HF id); ``null`` = the shipped red-team set."""
    model: str | None = None
    """Base model to train (``null`` = the embedded SmolLM2-135M-Instruct; a folder or HF id)."""
    generator: str | None = None
    """Backend spec that writes SL-CAI data; ``null`` = the base model on transformers (the
    paper revises with the model being trained; a served copy of it is faster)."""
    seed: int = 0
    """Seed for every stage; fixed, so a rerun reproduces the data and finds stages unchanged."""
    sl_cai: SLCAIStage = SLCAIStage()
    """Stage 1 data generation."""
    sft: TrainStage = TrainStage(config="training/configs/sft-smoke.yaml")
    """Supervised fine-tuning on the revisions."""
    pairs: PairsStage = PairsStage()
    """Response pairs sampled from the SFT model."""
    label: LabelStage = LabelStage()
    """AI preference labels."""
    rm: TrainStage = TrainStage(config="training/configs/rm-smoke.yaml")
    """Reward model (used by ``policy.method: rl``)."""
    policy: PolicyStage = PolicyStage(config="training/configs/rl-smoke.yaml")
    """Stage-2 policy optimisation."""
    eval: EvalStage = EvalStage()
    """Optional evaluation of the final policy."""


def load_pipeline(path: str | Path, overrides: list[str] | None = None) -> PipelineConfig:
    data = apply_overrides(read_yaml(path), overrides or [])
    return validate(PipelineConfig, data, str(path), overrides)


# -- the stage engine ------------------------------------------------------------------------


def hash_path(p: Path) -> str | None:
    """sha256 of a file, or of a folder's (name, sha256) list (checkpoints excluded)."""
    if p.is_file():
        return sha256_file(p)
    if p.is_dir():
        h = hashlib.sha256()
        for f in sorted(x for x in p.rglob("*") if x.is_file()):
            rel = f.relative_to(p).as_posix()
            if rel.startswith("checkpoints/") or rel.startswith("."):
                continue
            h.update(f"{rel}\0{sha256_file(f)}\n".encode())
        return h.hexdigest()
    return None


@dataclass
class Stage:
    """One step: what it reads, what decides it, what it writes, and how to run it."""

    name: str
    run: Callable[[], None]
    outputs: list[Path]
    inputs: list[Path] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    resumable: bool = True
    """Keep partial outputs of an interrupted run with the same fingerprint (they resume)."""


def fingerprint(stage: Stage) -> str:
    doc = {
        "stage": stage.name,
        "params": stage.params,
        "inputs": {str(p): hash_path(p) for p in stage.inputs},
    }
    return hashlib.sha256(dumps_json(json.loads(json.dumps(doc, default=str))).encode()).hexdigest()


def _remove(p: Path) -> None:
    if p.is_dir():
        shutil.rmtree(p)
    elif p.exists():
        p.unlink()
    meta = p.with_name(p.name + ".meta.json")  # ResumableJsonl's sidecar
    if meta.is_file():
        meta.unlink()


def execute(
    stages: list[Stage], run_dir: Path, *, force: list[str] | None = None, log: Log = print
) -> dict[str, str]:
    """Run ``stages`` in order, skipping finished ones; return ``{name: ran|skipped|resumed}``."""
    force = list(force or [])
    known = {s.name for s in stages}
    for f in force:
        if f not in known:
            raise usage_error(
                f"--force: no stage `{f}`", hint=f"stages: {', '.join(s.name for s in stages)}"
            )
    records = run_dir / "stages"
    records.mkdir(parents=True, exist_ok=True)
    what: dict[str, str] = {}
    forcing = False
    for stage in stages:
        forcing = forcing or stage.name in force
        fp = fingerprint(stage)
        rec_path = records / f"{stage.name}.json"
        rec = json.loads(rec_path.read_text(encoding="utf-8")) if rec_path.is_file() else None
        same = rec is not None and rec.get("fingerprint") == fp
        status = rec.get("status") if rec is not None else None
        intact = rec is not None and _outputs_intact(stage, rec)
        if same and status == "done" and not forcing and intact:
            log(f"[{stage.name}] unchanged, skipped")
            what[stage.name] = "skipped"
            continue
        resuming = same and status == "running" and stage.resumable and not forcing
        if not resuming:
            for p in stage.outputs:
                _remove(p)
        log(f"[{stage.name}] {'resuming' if resuming else 'running'}")
        t0 = time.time()
        _write_record(
            rec_path, {"stage": stage.name, "fingerprint": fp, "status": "running", "started": t0}
        )
        stage.run()
        missing = [str(p) for p in stage.outputs if not p.exists()]
        if missing:
            raise CaicError(f"stage {stage.name} finished without writing {', '.join(missing)}")
        _write_record(
            rec_path,
            {
                "stage": stage.name,
                "fingerprint": fp,
                "status": "done",
                "started": t0,
                "seconds": round(time.time() - t0, 1),
                "outputs": {str(p): hash_path(p) for p in stage.outputs},
            },
        )
        log(f"[{stage.name}] done in {time.time() - t0:.0f} s")
        what[stage.name] = "resumed" if resuming else "ran"
    return what


def _outputs_intact(stage: Stage, rec: dict[str, Any]) -> bool:
    recorded = rec.get("outputs", {})
    return all(
        recorded.get(str(p)) is not None and hash_path(p) == recorded[str(p)] for p in stage.outputs
    )


def _write_record(path: Path, rec: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(rec, indent=2, sort_keys=True) + "\n")


# -- the CAI stages --------------------------------------------------------------------------


def _in_child(fn: Callable[[Any], Any], cfg: BaseModel, log: Log) -> Callable[[], None]:
    """The stage body: ``fn(cfg)`` in a fresh child process (its model memory goes back to
    the system when the stage ends)."""

    def go() -> None:
        from caic.spawn import run_in_child

        log(f"  {fn.__module__.removeprefix('caic.')}.{fn.__name__}({type(cfg).__name__})")
        run_in_child(fn, cfg)

    return go


def _params(cfg: BaseModel) -> dict[str, Any]:
    """A job config as fingerprint parameters."""
    return cfg.model_dump(mode="json")


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"max_steps": 2}, "seed": 1}`` → ``{"train.max_steps": 2, "seed": 1}``."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _overrides(st: TrainStage, fixed: dict[str, Any]) -> list[str]:
    return [f"{k}={json.dumps(v)}" for k, v in _flatten({**st.overrides, **fixed}).items()]


def _train(kind: str, st: TrainStage, fixed: dict[str, Any]) -> Callable[[], None]:
    def go() -> None:
        import gc

        from caic.training.config import load_config
        from caic.training.trainer import run_config

        run_config(load_config(kind, st.config, _overrides(st, fixed)))
        gc.collect()

    return go


def _train_params(kind: str, st: TrainStage, fixed: dict[str, Any]) -> dict[str, Any]:
    from caic.training.config import load_config

    cfg = load_config(kind, st.config, _overrides(st, fixed)).model_dump(mode="json")
    cfg.pop("output_dir", None)
    cfg["train"].pop("cpu_threads", None)  # a speed setting: changing it reruns nothing
    return cfg


def _train_stage(
    name: str,
    kind: str,
    st: TrainStage,
    fixed: dict[str, Any],
    out: Path,
    inputs: list[Path],
    method: bool = False,
) -> Stage:
    """A training stage: ``caic train KIND`` in-process, its params the resolved config
    (with the method in front for the policy stage, which may be rl or dpo)."""
    params = _train_params(kind, st, fixed)
    if method:
        params = {"method": kind, **params}
    return Stage(name, _train(kind, st, fixed), [out], inputs, params)


def cai_stages(cfg: PipelineConfig, log: Log) -> list[Stage]:
    """The stage list for ``cfg`` (nothing runs yet; configs are validated here)."""
    run = Path(cfg.run_dir).resolve()
    c_path = _constitution_path(cfg.constitution)
    prompts = cfg.prompts
    prompt_inputs = [Path(prompts)] if prompts and Path(prompts).exists() else []
    sl = run / "sl_cai.jsonl"
    sft_data = run / "sft.jsonl"
    sft_dir = run / "sft"
    pairs = run / "pairs.jsonl"
    labels = run / "labels.jsonl"
    rm_dir = run / "rm"
    policy_dir = run / "policy"
    model = cfg.model
    generator = cfg.generator or (f"transformers:{model}" if model else None)
    gen = GenerateConfig(
        **cfg.sl_cai.model_dump(),
        constitution=c_path,
        out=sl,
        seed=cfg.seed,
        prompts=prompts,
        model=generator,
    )
    export = ExportConfig(in_=sl, out=sft_data)
    common = {"constitution": c_path, "seed": cfg.seed}
    sft_fixed = {**common, "data": str(sft_data), "model": model, "output_dir": str(sft_dir)}
    pair_cfg = PairsConfig(
        **cfg.pairs.model_dump(),
        prompts=prompts or _default_prompts(),
        out=pairs,
        model=f"transformers:{sft_dir}",
        seed=cfg.seed,
    )
    label_cfg = LabelConfig(
        **cfg.label.model_dump(), constitution=c_path, pairs=str(pairs), out=labels, seed=cfg.seed
    )
    rm_fixed = {**common, "data": str(labels), "model": model, "output_dir": str(rm_dir)}
    pol = cfg.policy
    if pol.method == "rl":
        pol_fixed = {
            **common,
            "prompts": prompts or _default_prompts(),
            "model": str(sft_dir),
            "reward_model": str(rm_dir),
            "output_dir": str(policy_dir),
        }
        pol_inputs = [sft_dir, rm_dir, *prompt_inputs]
    else:
        pol_fixed = {
            **common,
            "data": str(labels),
            "model": str(sft_dir),
            "output_dir": str(policy_dir),
        }
        pol_inputs = [sft_dir, labels]
    stages = [
        Stage(
            "sl_cai",
            _in_child(slcai_job.generate, gen, log),
            [sl],
            prompt_inputs,
            {"config": _params(gen), "constitution": _hash_file(c_path)},
        ),
        Stage("export", _in_child(slcai_job.export, export, log), [sft_data], [sl], {}, False),
        _train_stage("sft", "sft", cfg.sft, sft_fixed, sft_dir, [sft_data]),
        Stage(
            "pairs",
            _in_child(rlaif_job.pairs, pair_cfg, log),
            [pairs],
            [sft_dir, *prompt_inputs],
            {"config": _params(pair_cfg)},
        ),
        Stage(
            "label",
            _in_child(rlaif_job.label, label_cfg, log),
            [labels],
            [pairs],
            {"config": _params(label_cfg), "constitution": _hash_file(c_path)},
        ),
    ]
    if pol.method == "rl":
        stages.append(_train_stage("rm", "rm", cfg.rm, rm_fixed, rm_dir, [labels]))
    stages.append(
        _train_stage("policy", pol.method, pol, pol_fixed, policy_dir, pol_inputs, method=True)
    )
    if cfg.eval.enabled:
        ev = cfg.eval
        eval_dir = run / "eval"
        merged = run / "policy-merged"

        eval_job = PolicyEval(
            policy_dir=policy_dir,
            merged=merged,
            config=EvalConfig(
                suites=tuple(ev.suites),
                out=eval_dir,
                constitution=c_path,
                seed=cfg.seed,
                max_new_tokens=ev.max_new_tokens,
                limit=ev.limit,
            ),
        )

        stages.append(
            Stage(
                "eval",
                _in_child(evaluate_policy, eval_job, log),
                [eval_dir],
                [policy_dir],
                {"suites": ev.suites, "limit": ev.limit, "max_new_tokens": ev.max_new_tokens},
            )
        )
    return stages


class PolicyEval(_Strict):
    """The eval stage's job: the eval config, run on the trained policy."""

    policy_dir: Path
    merged: Path
    """Where a merged copy of the policy goes when transformers cannot load it as it is."""
    config: EvalConfig
    """``caic eval``'s config; its ``model`` is set to the policy."""


def evaluate_policy(job: PolicyEval) -> None:
    """Run the eval suites on the policy (in the stage's child process)."""
    from caic.evals.run import run_eval

    spec = _servable(job.policy_dir, job.merged)
    run_eval(job.config.model_copy(update={"model": f"transformers:{spec}"}))


def _servable(policy_dir: Path, merged: Path) -> Path:
    """A folder the transformers backend can load: the policy itself, or — when its adapter sits
    on a merged SFT model, which transformers cannot rebuild from the adapter alone — a merged
    copy written once."""
    from caic.training.models import load_causal_lm, load_tokenizer, resolve_model

    resolved = resolve_model(str(policy_dir))
    if len(resolved.adapters) <= 1:
        return policy_dir
    if not (merged / "config.json").is_file():
        import torch

        load_causal_lm(resolved, torch.float32).save_pretrained(str(merged))
        load_tokenizer(resolved).save_pretrained(str(merged))
    return merged


def _constitution_path(name: str) -> str:
    from caic.constitutions import find

    p = find(name)
    if not p.exists():
        raise usage_error(f"constitution not found: {name}", code="E004")
    return str(p.resolve())


def _hash_file(path: str) -> str | None:
    return hash_path(Path(path))


def _default_prompts() -> str:
    from caic.training import slcai

    return str(slcai.default_prompts_path())


def run_pipeline(
    path: str | Path, overrides: list[str], *, force: list[str] | None = None, log: Log = print
) -> Path:
    """Load the pipeline YAML and run every stage that is not already done."""
    cfg = load_pipeline(path, overrides)
    run = Path(cfg.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    import yaml

    write_text_atomic(
        run / "pipeline.yaml", yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
    )
    execute(cai_stages(cfg, log), run, force=force, log=log)
    return run
