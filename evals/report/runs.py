"""Eval run directories as ``caic report`` reads them: ``manifest.json`` + ``samples.jsonl``.

The contract is the one ``caic eval`` writes (schema_version 1): the manifest carries
``kind: "eval-run"`` and ``metrics: {suite: {metric: {value, ci_low, ci_high, n,
higher_is_better, per_category}}}``; each sample row carries ``uid`` (``suite:id``),
``suite``, ``id``, ``category``, ``input``, ``output`` and ``scores``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from caic.errors import usage_error
from caic.evals.run_artefacts import Sample
from caic.io import read_json, read_jsonl, validate_row

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 1
SUITES = ("harmlessness", "over_refusal", "sycophancy", "label_agreement")


@dataclass
class Run:
    """One eval run directory, read."""

    label: str
    path: Path
    manifest: dict[str, Any]
    samples: pd.DataFrame
    """One row per sample: uid, suite, id, category, input, output, scores."""


def _need(obj: dict[str, Any], key: str, path: Path) -> Any:
    if key not in obj:
        raise usage_error(f"not an eval run manifest: no `{key}`", path=str(path), code="E301")
    return obj[key]


def load_run(path: str | Path, label: str | None = None) -> Run:
    """Read ``DIR/manifest.json`` and ``DIR/samples.jsonl``; bad input is a usage error."""
    import pandas as pd

    d = Path(path)
    mpath = d / "manifest.json"
    if not mpath.is_file():
        raise usage_error(
            f"not an eval run directory (no manifest.json): {d}",
            path=str(d),
            code="E301",
            hint="run `caic eval ... -o DIR` first",
        )
    manifest = read_json(mpath)
    if not isinstance(manifest, dict) or manifest.get("kind") != "eval-run":
        raise usage_error(
            "not an eval run manifest (kind is not `eval-run`)", path=str(mpath), code="E301"
        )
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise usage_error(
            f"unsupported eval run schema_version {manifest.get('schema_version')}",
            path=str(mpath),
            code="E301",
            hint=f"this caic reads version {SCHEMA_VERSION}",
        )
    _need(manifest, "metrics", mpath)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    spath = d / "samples.jsonl"
    for line, obj in read_jsonl(spath):
        uid = obj.get("uid")
        if not isinstance(uid, str):
            raise usage_error("sample has no string `uid`", path=str(spath), line=line, code="E302")
        validate_row(Sample, obj, path=str(spath), line=line, what="an eval sample", code="E302")
        if uid in seen:
            raise usage_error(
                f"duplicate sample uid `{uid}`", path=str(spath), line=line, code="E302"
            )
        seen.add(uid)
        rows.append(
            {
                "uid": uid,
                "suite": obj.get("suite") or uid.split(":", 1)[0],
                "id": obj.get("id"),
                "category": obj.get("category"),
                "input": obj.get("input") if isinstance(obj.get("input"), dict) else {},
                "output": obj.get("output"),
                "scores": obj.get("scores") if isinstance(obj.get("scores"), dict) else {},
            }
        )
    cols = ["uid", "suite", "id", "category", "input", "output", "scores"]
    frame = pd.DataFrame(rows, columns=cols).set_index("uid", drop=False)
    return Run(label or d.resolve().name, d, manifest, frame)


def metric_table(run: Run) -> dict[str, dict[str, Any]]:
    """``{"suite.metric": metric object}`` of one run's manifest."""
    out: dict[str, dict[str, Any]] = {}
    for suite, metrics in (run.manifest.get("metrics") or {}).items():
        for name, m in (metrics or {}).items():
            if isinstance(m, dict) and isinstance(m.get("value"), int | float):
                out[f"{suite}.{name}"] = m
    return out


def unique_labels(paths: list[Path]) -> list[str]:
    """Directory names, with the parent folder prepended where two would clash."""
    names = [p.resolve().name for p in paths]
    out = []
    for p, n in zip(paths, names, strict=True):
        out.append(f"{p.resolve().parent.name}/{n}" if names.count(n) > 1 else n)
    for i, label in enumerate(out):
        if out.count(label) > 1:
            out[i] = f"{label}#{i + 1}"
    return out


def interval(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m.get(k) for k in ("value", "ci_low", "ci_high", "n")}


def run_info(run: Run) -> dict[str, Any]:
    m = run.manifest
    return {
        "label": run.label,
        "dir": str(run.path),
        "n_samples": len(run.samples),
        **{
            k: m.get(k)
            for k in (
                "caic_version",
                "suites",
                "model",
                "judge",
                "constitution",
                "system_prompt",
                "seed",
                "data",
                "timing",
            )
        },
    }
