"""Compare eval runs: metrics side by side, paired tests, flips, constitution diffs, gates.

``caic report`` reads only eval run directories (``manifest.json`` + ``samples.jsonl``,
written by ``caic eval``) and builds one JSON-able report dict; the Markdown and HTML
forms (:mod:`caic.evals.report_render`) are views of that dict.

Which sample score backs each metric (what the paired test compares per item):

=====================================  ===============================================
metric                                 per-item value (test)
=====================================  ===============================================
harmlessness.harmful_compliance_rate   ``scores.harmful`` (McNemar)
over_refusal.over_refusal_rate         ``scores.refusal_class`` is ``full_refusal`` or
                                       ``partial_refusal``, safe prompts only (McNemar)
over_refusal.full_refusal_rate         ``scores.refusal_class == "full_refusal"``, safe
                                       prompts only (McNemar)
over_refusal.partial_refusal_rate      ``scores.refusal_class == "partial_refusal"``,
                                       safe prompts only (McNemar)
sycophancy.flip_rate                   ``scores.flipped`` on items first answered
                                       correctly (McNemar)
label_agreement.accuracy               ``scores.correct`` (McNemar)
label_agreement.brier                  ``(1 − scores.p_chosen)²`` (paired bootstrap)
any other ``suite.X`` or ``suite.X_rate``  ``scores.X``: McNemar when boolean,
                                       paired bootstrap when numeric
=====================================  ===============================================

A backing is used only if the per-item values reproduce the manifest's value (and n)
on that run's own samples, so a metric whose definition the table does not match gets
no test rather than a wrong one; such metrics still get their values and deltas.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import caic
from caic.errors import usage_error
from caic.evals.stats import ALPHA, format_p, mcnemar_exact, paired_bootstrap
from caic.io import read_jsonl

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 1
SUITES = ("harmlessness", "over_refusal", "sycophancy", "label_agreement")
MAX_FLIPS = 200
"""Flipped items kept per (run, suite) in the report."""

Item = Callable[[dict[str, Any], dict[str, Any]], float | None]


@dataclass(frozen=True)
class Backing:
    """How a metric is backed by per-sample scores."""

    describe: str
    binary: bool
    value: Item
    """(scores, input) → the item's value, or None when the item is not in the metric."""


def _flag(x: Any) -> float | None:
    return None if x is None else float(bool(x))


def _safe(inp: dict[str, Any]) -> bool:
    return inp.get("label", "safe") == "safe"


def _refusal(classes: set[str], safe_only: bool) -> Item:
    def value(s: dict[str, Any], i: dict[str, Any]) -> float | None:
        if s.get("refusal_class") is None or (safe_only and not _safe(i)):
            return None
        return float(s["refusal_class"] in classes)

    return value


_BOTH = {"full_refusal", "partial_refusal"}
BACKINGS: dict[str, list[Backing]] = {
    "harmlessness.harmful_compliance_rate": [
        Backing("scores.harmful", True, lambda s, i: _flag(s.get("harmful")))
    ],
    "over_refusal.over_refusal_rate": [
        Backing(
            "scores.refusal_class ∈ {full,partial}_refusal on safe prompts",
            True,
            _refusal(_BOTH, True),
        ),
        Backing("scores.refusal_class ∈ {full,partial}_refusal", True, _refusal(_BOTH, False)),
    ],
    "over_refusal.full_refusal_rate": [
        Backing(
            "scores.refusal_class = full_refusal on safe prompts",
            True,
            _refusal({"full_refusal"}, True),
        ),
        Backing("scores.refusal_class = full_refusal", True, _refusal({"full_refusal"}, False)),
    ],
    "over_refusal.partial_refusal_rate": [
        Backing(
            "scores.refusal_class = partial_refusal on safe prompts",
            True,
            _refusal({"partial_refusal"}, True),
        ),
        Backing(
            "scores.refusal_class = partial_refusal", True, _refusal({"partial_refusal"}, False)
        ),
    ],
    "sycophancy.flip_rate": [
        Backing(
            "scores.flipped on items first answered correctly",
            True,
            lambda s, i: _flag(s.get("flipped")) if s.get("correct_first") else None,
        ),
        Backing("scores.flipped", True, lambda s, i: _flag(s.get("flipped"))),
    ],
    "label_agreement.accuracy": [
        Backing("scores.correct", True, lambda s, i: _flag(s.get("correct")))
    ],
    "label_agreement.brier": [
        Backing(
            "(1 − scores.p_chosen)²",
            False,
            lambda s, i: None if s.get("p_chosen") is None else (1 - s["p_chosen"]) ** 2,
        )
    ],
}

VERDICTS: dict[str, tuple[str, str]] = {
    "harmlessness.harmful_compliance_rate": (
        "complies with harmful requests more often",
        "complies with harmful requests less often",
    ),
    "over_refusal.over_refusal_rate": (
        "refuses safe prompts more often",
        "refuses safe prompts less often",
    ),
    "over_refusal.full_refusal_rate": (
        "fully refuses safe prompts more often",
        "fully refuses safe prompts less often",
    ),
    "over_refusal.partial_refusal_rate": (
        "partly refuses safe prompts more often",
        "partly refuses safe prompts less often",
    ),
    "sycophancy.flip_rate": ("caves to pushback more often", "caves to pushback less often"),
    "label_agreement.accuracy": (
        "agrees with the human labels more often",
        "agrees with the human labels less often",
    ),
}
"""Plain-words verdicts (higher, lower) for a significant difference."""

FLIP_KEYS = {
    "harmlessness": ("harmful",),
    "over_refusal": ("refusal_class",),
    "sycophancy": ("correct_first", "flipped"),
    "label_agreement": ("correct",),
}
"""The sample scores whose change between runs makes an item "flipped"."""


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
    import json

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
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise usage_error(
            f"malformed JSON: {e.msg}", path=str(mpath), line=e.lineno, column=e.colno, code="E005"
        ) from None
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


def _score(key: str, binary: bool) -> Item:
    def value(s: dict[str, Any], i: dict[str, Any]) -> float | None:
        x = s.get(key)
        if x is None:
            return None
        return _flag(x) if binary else float(x)

    return value


def candidates(key: str, samples: pd.DataFrame) -> list[Backing]:
    """Backings to try for a metric: the table's, then a score of the same name."""
    out = list(BACKINGS.get(key, []))
    suite, _, name = key.partition(".")
    rows = samples[samples["suite"] == suite]
    keys: set[str] = set()
    for s in rows["scores"]:
        keys.update(s)
    for k in sorted(keys):
        if name in (k, f"{k}_rate", f"mean_{k}"):
            kinds = {type(s[k]) for s in rows["scores"] if s.get(k) is not None}
            if kinds and kinds <= {bool}:
                out.append(Backing(f"scores.{k}", True, _score(k, binary=True)))
            elif kinds and kinds <= {int, float, bool}:
                out.append(Backing(f"scores.{k}", False, _score(k, binary=False)))
    return out


def item_values(run: Run, key: str, backing: Backing) -> pd.Series:
    """Per-item values of a metric on one run, indexed by uid (items outside it dropped)."""
    import pandas as pd

    rows = run.samples[run.samples["suite"] == key.partition(".")[0]]
    vals = [backing.value(s, i) for s, i in zip(rows["scores"], rows["input"], strict=True)]
    return pd.Series(vals, index=rows.index, dtype="float64").dropna()


def backing_for(run: Run, key: str, metric: dict[str, Any]) -> tuple[Backing, pd.Series] | None:
    """The first backing whose per-item mean (and count) reproduce the manifest's metric."""
    for b in candidates(key, run.samples):
        vals = item_values(run, key, b)
        if vals.empty:
            continue
        n_ok = metric.get("n") in (None, len(vals))
        if n_ok and math.isclose(float(vals.mean()), float(metric["value"]), abs_tol=1e-6):
            return b, vals
    return None


def _phrase(key: str, higher: bool) -> str:
    if key in VERDICTS:
        return VERDICTS[key][0 if higher else 1]
    return f"has a {'higher' if higher else 'lower'} {key}"


def compare(base: Run, run: Run, key: str, seed: int = 0, resamples: int = 2000) -> dict[str, Any]:
    """Delta of one metric against the baseline, with a paired test on the shared items."""
    import pandas as pd

    bm, rm = metric_table(base)[key], metric_table(run)[key]
    out: dict[str, Any] = {"delta": rm["value"] - bm["value"], "test": None}
    bb, rb = backing_for(base, key, bm), backing_for(run, key, rm)
    if bb is None or rb is None or bb[0].describe != rb[0].describe:
        out["verdict"] = "no paired test (the sample scores do not reproduce this metric)"
        return out
    backing = bb[0]
    joined = pd.concat([bb[1].rename("a"), rb[1].rename("b")], axis=1, join="inner")
    if joined.empty:
        out["verdict"] = "no paired test (the runs share no items)"
        return out
    a, b = joined["a"], joined["b"]
    test: dict[str, Any] = {"backed_by": backing.describe, "n_shared": len(joined)}
    if backing.binary:
        only_a, only_b = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
        p = mcnemar_exact(only_a, only_b)
        test.update(
            method="mcnemar-exact",
            discordant={"baseline_only": only_a, "run_only": only_b},
            delta_shared=float(b.mean() - a.mean()),
            p_value=p,
        )
    else:
        bs = paired_bootstrap(a.tolist(), b.tolist(), resamples, seed)
        p = bs.p_value
        test.update(
            method="paired-bootstrap",
            delta_shared=bs.delta,
            ci_low=bs.ci_low,
            ci_high=bs.ci_high,
            p_value=p,
            resamples=resamples,
            seed=seed,
        )
    d = test["delta_shared"]
    test["significant"] = bool(p < ALPHA and d != 0)
    hib = rm.get("higher_is_better")
    test["direction"] = None if d == 0 or hib is None else ("better" if (d > 0) == hib else "worse")
    out["test"] = test
    if test["significant"]:
        out["verdict"] = f"{run.label} {_phrase(key, d > 0)} than {base.label} ({format_p(p)})"
    else:
        out["verdict"] = f"no significant difference ({format_p(p)})"
    return out


def _bad(suite: str, s: dict[str, Any], i: dict[str, Any]) -> bool | None:
    """Whether an item's outcome is the undesirable one, for labelling flips."""
    if suite == "harmlessness" and "harmful" in s:
        return bool(s["harmful"])
    if suite == "over_refusal" and "refusal_class" in s:
        refused = s["refusal_class"] in _BOTH
        return refused if _safe(i) else not refused
    if suite == "sycophancy" and "flipped" in s:
        return bool(s["flipped"])
    if suite == "label_agreement" and "correct" in s:
        return not s["correct"]
    return None


def flips(base: Run, run: Run, limit: int = MAX_FLIPS) -> list[dict[str, Any]]:
    """Shared items whose outcome (the suite's ``FLIP_KEYS``) differs between the runs."""
    out = []
    shared = base.samples.index.intersection(run.samples.index)
    counts: dict[str, int] = {}
    for uid in shared:
        x, y = base.samples.loc[uid], run.samples.loc[uid]
        suite = str(x["suite"])
        keys = FLIP_KEYS.get(suite) or tuple(
            k for k, v in x["scores"].items() if isinstance(v, bool | str)
        )
        before = {k: x["scores"].get(k) for k in keys}
        after = {k: y["scores"].get(k) for k in keys}
        if before == after:
            continue
        counts[suite] = counts.get(suite, 0) + 1
        if counts[suite] > limit:
            continue
        bad_x, bad_y = _bad(suite, x["scores"], x["input"]), _bad(suite, y["scores"], y["input"])
        direction = "changed"
        if bad_x is not None and bad_y is not None and bad_x != bad_y:
            direction = "worse" if bad_y else "better"
        out.append(
            {
                "run": run.label,
                "suite": suite,
                "uid": uid,
                "id": x["id"],
                "category": x["category"],
                "input": x["input"],
                "direction": direction,
                "baseline": {"outcome": before, "output": x["output"]},
                "candidate": {"outcome": after, "output": y["output"]},
            }
        )
    order = {"worse": 0, "better": 1, "changed": 2}
    out.sort(
        key=lambda f: (
            SUITES.index(f["suite"]) if f["suite"] in SUITES else 9,
            order[f["direction"]],
            f["uid"],
        )
    )
    return out


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
        return None, f"{tried[0]} no longer matches the run's constitution (sha256 differs)"
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


def _interval(m: dict[str, Any]) -> dict[str, Any]:
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
                r.label: _interval(tables[r.label][key]) if key in tables[r.label] else None
                for r in runs
            },
            "comparisons": {},
        }
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
                    c: _interval(v)
                    for c, v in (tables[r.label].get(key, {}).get("per_category") or {}).items()
                }
                for r in runs
            }
            deltas = {
                r.label: {
                    c: pc[r.label][c]["value"] - pc[base.label][c]["value"]
                    for c in cats
                    if c in pc[r.label] and c in pc[base.label]
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


# ----------------------------------------------------------------------------- gates

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
_GATE = (
    r"^\s*(?P<metric>[A-Za-z_]\w*\.[A-Za-z_]\w*)(?P<delta>\.delta)?\s*"
    r"(?P<op><=|>=|==|!=|<|>)\s*(?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)


@dataclass(frozen=True)
class Gate:
    """``--fail-on METRIC[.delta] OP NUMBER``: the gate fails when the comparison holds."""

    expr: str
    metric: str
    delta: bool
    op: str
    number: float


def parse_gate(expr: str, known: list[str]) -> Gate:
    """Parse one ``--fail-on`` expression; a bad one or an unknown metric is a usage error."""
    import re

    m = re.match(_GATE, expr)
    if not m:
        raise usage_error(
            f"bad --fail-on expression `{expr}`",
            code="E303",
            hint="write `suite.metric OP NUMBER` or `suite.metric.delta OP "
            "NUMBER`, OP one of < <= > >= == !=",
        )
    metric = m["metric"]
    if metric not in known:
        raise usage_error(
            f"unknown metric `{metric}` in --fail-on",
            code="E304",
            hint="known metrics: " + ", ".join(known),
        )
    return Gate(expr.strip(), metric, bool(m["delta"]), m["op"], float(m["num"]))


def evaluate_gates(report: dict[str, Any], gates: list[Gate]) -> list[dict[str, Any]]:
    """Evaluate gates on every run (absolute) or every non-baseline run (delta)."""
    by_key = {m["key"]: m for m in report["metrics"]}
    results = []
    for g in gates:
        entry = by_key[g.metric]
        for run in report["runs"]:
            label = run["label"]
            if g.delta:
                if label == report["baseline"]:
                    continue
                comp = entry["comparisons"].get(label)
                value = None if comp is None else comp["delta"]
            else:
                got = entry["runs"].get(label)
                value = None if got is None else got["value"]
            failed = value is not None and _OPS[g.op](value, g.number)
            results.append(
                {
                    "gate": g.expr,
                    "run": label,
                    "value": value,
                    "failed": failed,
                    "note": "not measured in this run" if value is None else None,
                }
            )
    return results
