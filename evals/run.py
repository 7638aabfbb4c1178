"""Run eval suites against a model and write the run directory that reports read.

``DIR/samples.jsonl``
    one record per item, appended (and flushed) batch by batch through
    :class:`~caic.resumable.ResumableJsonl` keyed by ``uid`` = ``"{suite}:{id}"``:
    ``{uid, suite, id, category, input, output, scores}``.
``DIR/manifest.json``
    written atomically, last: ``schema_version``, ``kind: "eval-run"``, caic version,
    suites, model, judge, constitution (name, version, sha256, path) or null,
    ``system_prompt``, seed, per-suite data (source, sha256, n), timing, and
    ``metrics[suite_key][metric] = {value, ci_low, ci_high, n, higher_is_better,
    per_category}``, and ``instruments.refusal_classifier``: the card of the classifier
    that labelled the replies (name, version, measured confusion matrices).

A killed run is resumed by running the same command: items already in
``samples.jsonl`` are skipped (a torn last line is dropped), and the metrics are always
recomputed from the whole ``samples.jsonl``. Changing the model, judge, constitution,
seed, data or generation length against an existing directory is refused; ``--limit``
may grow (the subset for a larger limit contains the smaller one).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import caic
from caic.backends.base import Backend, SamplingParams
from caic.constitution_lang.model import Constitution
from caic.errors import usage_error
from caic.evals.eval_config import EvalConfig
from caic.evals.loaders import Dataset, load_suite, subsample
from caic.evals.run_artefacts import SCHEMA_VERSION, RunManifest, Sample
from caic.evals.suites import SUITES, Context
from caic.io import write_text_atomic
from caic.progress import Progress, no_progress
from caic.resumable import ResumableJsonl


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _constitution(spec: str | None) -> tuple[Constitution | None, dict[str, Any] | None]:
    if spec is None:
        return None, None
    from caic.constitution_lang import load, sha256
    from caic.constitutions import find

    path = find(spec)
    if not path.exists():
        raise usage_error(f"no such constitution: {spec}", hint="a .cai path or a shipped name")
    c = load(path)
    info = {"name": c.name, "version": c.version, "sha256": sha256(c), "path": str(path)}
    return c, info


def _check_suites(names: tuple[str, ...]) -> None:
    import difflib

    for n in names:
        if n not in SUITES:
            close = difflib.get_close_matches(n, list(SUITES), n=1)
            raise usage_error(
                f"unknown suite {n!r}",
                hint=f"did you mean {close[0]!r}?" if close else f"one of {', '.join(SUITES)}",
            )
    if len(set(names)) != len(names):
        raise usage_error("a suite is named twice in --suite")


def run_eval(
    cfg: EvalConfig,
    *,
    backend: Backend | None = None,
    judge: Backend | None = None,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """Run (or resume) the configured suites; write and return the manifest.

    ``backend``/``judge`` replace the specs' backends (tests pass fakes); otherwise they
    are built only when some item still needs them, so a finished run re-scores offline.
    ``progress(suite, done, total)`` is called as each suite starts and after each
    appended batch.
    """
    _check_suites(cfg.suites)
    started, t0 = _now(), time.perf_counter()
    constitution, c_info = _constitution(cfg.constitution)
    if cfg.system_prompt and constitution is None:
        raise usage_error("--system-prompt needs --constitution")
    unknown = set(cfg.data) - set(cfg.suites)
    if unknown:
        raise usage_error(f"--data names a suite that is not run: {', '.join(sorted(unknown))}")
    datasets: dict[str, Dataset] = {}
    items: dict[str, list[dict[str, Any]]] = {}
    for name in cfg.suites:
        datasets[name] = load_suite(name, cfg.data.get(name))
        items[name] = subsample(datasets[name].items, cfg.limit, cfg.seed)
    fingerprint = {
        "schema_version": SCHEMA_VERSION,
        "model": cfg.model or "default",
        "judge": cfg.judge,
        "constitution": c_info["sha256"] if c_info else None,
        "system_prompt": cfg.system_prompt,
        "seed": cfg.seed,
        "max_new_tokens": cfg.max_new_tokens,
        "data": {n: datasets[n].sha256 for n in cfg.suites},
    }
    instruments = _instruments(cfg)
    if "refusal_classifier" in instruments:
        from caic.evals.instrument import instrument_id

        fingerprint["refusal_classifier"] = instrument_id(instruments["refusal_classifier"])
    cfg.out.mkdir(parents=True, exist_ok=True)
    system_text = None
    if cfg.system_prompt and constitution is not None:
        from caic.compiler.prompts import system_prompt

        system_text = system_prompt(constitution)
    params = SamplingParams(temperature=0.0, max_new_tokens=cfg.max_new_tokens, seed=cfg.seed)
    ctx: Context | None = None
    owned: list[Backend] = []

    def context() -> Context:
        nonlocal ctx
        if ctx is None:
            from caic.backends.registry import get_backend

            model = backend
            if model is None:
                model = (
                    get_backend(cfg.model, batch_size=cfg.batch_size)
                    if _is_tf(cfg.model)
                    else get_backend(cfg.model)
                )
                owned.append(model)
            j = judge
            if j is None and cfg.judge:
                j = get_backend(cfg.judge)
                owned.append(j)
            ctx = Context(
                model=model,
                judge=j,
                constitution=constitution,
                system_prompt=system_text,
                params=params,
                seed=cfg.seed,
                batch_size=cfg.batch_size,
            )
        return ctx

    samples_path = cfg.out / "samples.jsonl"
    try:
        with ResumableJsonl(samples_path, fingerprint, key="uid") as log:
            for name in cfg.suites:
                suite = SUITES[name]
                todo = items[name]
                uids = {f"{suite.key}:{it['id']}" for it in todo}
                already = len(uids & log.done)
                progress(name, already, len(todo))
                if already == len(todo):
                    continue

                def done(item_id: str, key: str = suite.key) -> bool:
                    return f"{key}:{item_id}" in log.done

                count = already
                for recs in suite.solve(context(), todo, done):
                    log.append([Sample.model_validate(r).model_dump(mode="json") for r in recs])
                    count += len(recs)
                    progress(name, count, len(todo))
            rows = log.rows()
    finally:
        for b in owned:
            b.close()
    manifest = build_manifest(cfg, rows, datasets, items, c_info, started, t0, instruments)
    write_text_atomic(
        cfg.out / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    )
    return manifest


REFUSAL_SUITES = ("harmlessness", "over-refusal")


def _instruments(cfg: EvalConfig) -> dict[str, Any]:
    """The refusal classifier's card when a suite classifies refusals (the judge's
    spec, unmeasured, when a judge decides instead)."""
    if not set(cfg.suites) & set(REFUSAL_SUITES):
        return {}
    if cfg.judge:
        return {"refusal_classifier": {"name": "judge", "spec": cfg.judge, "measured": None}}
    from caic.evals.refusal_model import card

    return {"refusal_classifier": card()}


def _is_tf(spec: str | None) -> bool:
    return spec is None or spec.strip() in ("", "default") or spec.startswith("transformers")


def build_manifest(
    cfg: EvalConfig,
    rows: list[dict[str, Any]],
    datasets: dict[str, Dataset],
    items: dict[str, list[dict[str, Any]]],
    c_info: dict[str, Any] | None,
    started: str,
    t0: float,
    instruments: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest, with metrics recomputed from the sample rows of this run's items."""
    metrics: dict[str, Any] = {}
    for name in cfg.suites:
        suite = SUITES[name]
        wanted = {f"{suite.key}:{it['id']}" for it in items[name]}
        mine = [r for r in rows if r.get("uid") in wanted]
        metrics[suite.key] = {m.name: m.report(mine, cfg.seed) for m in suite.metrics}
    manifest = RunManifest(
        **{
            "caic_version": caic.__version__,
            "suites": list(cfg.suites),
            "model": cfg.model or "default",
            "judge": cfg.judge,
            "constitution": c_info,
            "system_prompt": cfg.system_prompt,
            "seed": cfg.seed,
            "data": {
                n: {"source": datasets[n].source, "sha256": datasets[n].sha256, "n": len(items[n])}
                for n in cfg.suites
            },
            "timing": {
                "started": started,
                "finished": _now(),
                "seconds": round(time.perf_counter() - t0, 3),
            },
            "metrics": metrics,
            "instruments": instruments or {},
        }
    )
    return manifest.model_dump(mode="json")
