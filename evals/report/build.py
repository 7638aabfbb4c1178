"""Build the report dict of ``caic report``: see :mod:`caic.evals.report` for what backs
each metric."""

from __future__ import annotations

from typing import Any

import caic
from caic.errors import usage_error
from caic.evals.instrument import EVENTS, adjusted_rate
from caic.evals.report.paired import MAX_FLIPS, backing_for, compare, flips, refusal_card
from caic.evals.report.runs import (
    SCHEMA_VERSION,
    SUITES,
    Run,
    interval,
    metric_table,
    run_info,
)
from caic.evals.stats import ALPHA


def _constitution(run: Run) -> tuple[Any, str | None]:
    """The run's constitution loaded from its file, checked against the manifest's hash."""
    from caic.constitution_lang import load, sha256
    from caic.constitutions import find
    from caic.errors import CaicError
    from caic.io import sha256_file

    meta = run.manifest.get("constitution")
    if not meta:
        return None, "the run used no constitution"
    tried = []
    for p in (
        meta.get("path"),
        (run.path / meta["path"]) if meta.get("path") else None,
        meta.get("name"),
    ):
        if not p:
            continue
        path = find(str(p))
        if not path.is_file() or path in tried:
            continue
        tried.append(path)
        try:
            c = load(path)
        except CaicError:
            continue
        if meta.get("sha256") in (None, sha256(c), sha256_file(path)):
            return c, None
    if tried:
        names = ", ".join(str(t) for t in tried)
        return None, f"no file matches the run's constitution sha256 (tried {names})"
    return None, f"constitution file not found: {meta.get('path') or meta.get('name')}"


def constitution_diffs(base: Run, runs: list[Run]) -> list[dict[str, Any]]:
    """``caic diff`` of the baseline's constitution against each other run's."""
    from caic.compiler.diff import diff

    out = []
    old, why_old = _constitution(base)
    for run in runs:
        if run is base:
            continue
        entry: dict[str, Any] = {"run": run.label, "baseline": base.label}
        new, why_new = _constitution(run)
        ma, mb = base.manifest.get("constitution"), run.manifest.get("constitution")
        if ma and mb and ma.get("sha256") and ma.get("sha256") == mb.get("sha256"):
            entry.update(status="same", note="both runs used the same constitution")
        elif old is None or new is None:
            entry.update(status="unavailable", note=why_old or why_new)
        else:
            entry.update(status="diff", diff=diff(old, new).model_dump(mode="json"))
        out.append(entry)
    return out


def _adjusted(run: Run, key: str, seed: int, resamples: int) -> dict[str, Any] | None:
    """A refusal rate corrected for the classifier's measured error, with the interval
    widened by it (:mod:`caic.evals.instrument`); None when that error is unmeasured."""
    metric = metric_table(run)[key]
    found = backing_for(run, key, metric)
    if found is None or found[0].kind != "binary":
        return None
    return adjusted_rate(found[1].tolist(), refusal_card(run), EVENTS[key], resamples, seed)


def build_report(
    runs: list[Run], baseline: Run | None = None, seed: int = 0, resamples: int = 2000
) -> dict[str, Any]:
    """The whole comparison as JSON data (the ``--out x.json`` form)."""
    if not runs:
        raise usage_error("no runs to report on")
    base = baseline or runs[0]
    if base not in runs:
        runs = [base, *runs]
    others = [r for r in runs if r is not base]
    tables = {r.label: metric_table(r) for r in runs}
    keys: list[str] = []
    for r in runs:
        keys += [k for k in tables[r.label] if k not in keys]
    keys.sort(key=lambda k: SUITES.index(k.split(".")[0]) if k.split(".")[0] in SUITES else 9)
    metrics, per_category = [], []
    for key in keys:
        hib = next((t[key].get("higher_is_better") for t in tables.values() if key in t), None)
        entry: dict[str, Any] = {
            "key": key,
            "suite": key.split(".")[0],
            "metric": key.split(".", 1)[1],
            "higher_is_better": hib,
            "runs": {
                r.label: interval(tables[r.label][key]) if key in tables[r.label] else None
                for r in runs
            },
            "comparisons": {},
        }
        if key in EVENTS:
            for r in runs:
                if key in tables[r.label]:
                    entry["runs"][r.label]["adjusted"] = _adjusted(r, key, seed, resamples)
        for r in others:
            if key in tables[r.label] and key in tables[base.label]:
                entry["comparisons"][r.label] = compare(base, r, key, seed, resamples)
        metrics.append(entry)
        cats: list[str] = []
        for r in runs:
            cats += [
                c for c in (tables[r.label].get(key, {}).get("per_category") or {}) if c not in cats
            ]
        if cats:
            pc = {
                r.label: {
                    c: interval(v)
                    for c, v in (tables[r.label].get(key, {}).get("per_category") or {}).items()
                }
                for r in runs
            }
            deltas = {
                r.label: {
                    c: pc[r.label][c]["value"] - pc[base.label][c]["value"]
                    for c in cats
                    if c in pc[r.label]
                    and c in pc[base.label]
                    and pc[r.label][c]["value"] is not None
                    and pc[base.label][c]["value"] is not None
                }
                for r in others
            }
            per_category.append({"key": key, "categories": cats, "runs": pc, "deltas": deltas})
    all_flips: list[dict[str, Any]] = []
    flip_counts: dict[str, dict[str, dict[str, int]]] = {}
    for r in others:
        items = flips(base, r, limit=10**9)
        counts = flip_counts.setdefault(r.label, {})
        kept: dict[str, int] = {}
        for f in items:
            c = counts.setdefault(f["suite"], {"better": 0, "worse": 0, "changed": 0})
            c[f["direction"]] += 1
            kept[f["suite"]] = kept.get(f["suite"], 0) + 1
            if kept[f["suite"]] <= MAX_FLIPS:
                all_flips.append(f)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "eval-report",
        "caic_version": caic.__version__,
        "seed": seed,
        "resamples": resamples,
        "alpha": ALPHA,
        "baseline": base.label,
        "runs": [run_info(r) for r in runs],
        "metrics": metrics,
        "per_category": per_category,
        "flips": all_flips,
        "flip_counts": flip_counts,
        "constitution_diffs": constitution_diffs(base, runs),
        "gates": [],
    }
