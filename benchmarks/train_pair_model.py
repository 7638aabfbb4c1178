"""Fit the learned pair classifier of the `contradiction` / `near-duplicate` lint rules.

Usage::

    python benchmarks/train_pair_model.py --rotate SET1.jsonl SET2.jsonl SET3.jsonl
    python benchmarks/train_pair_model.py --write SET1.jsonl [SET2.jsonl ...]

Each pair file holds ``{"a", "b", "label"}`` rows (``contradiction`` | ``duplicate`` |
``compatible``). Features are computed exactly as ``caic lint`` computes them for a
two-principle constitution (:func:`caic.compiler.lint.semantics.analyse` with the learned
model switched off, then :mod:`caic.compiler.lint.pair_model`'s feature set).

``--rotate`` trains on all files but one and tests on the one left out, for every file,
and prints precision and recall of both rules for each rotation and each candidate
configuration. ``--write`` fits the chosen configuration on every file given and writes
``compiler/lint/pair_model.json`` (coefficients and the PCA basis only: no text of any
pair). The PCA basis is fitted on a neutral corpus: the judge, critique and revision texts
of the shipped constitutions, not on any pair file; the value axes are the embedding
differences of the two sides of each shipped ``tension`` block.

Result (measured once; not adopted, so no coefficients file ships). Rotations, best
configuration (8 PCA directions, C = 1.0), contradiction P/R and near-duplicate P/R on
the left-out set:

    left out benchmarks/data/principle_pairs.jsonl (156): C 0.52/0.50  D 0.60/0.58
    left out tests/data/lint_pairs.jsonl (48):            C 0.94/0.85  D 0.71/0.83
    left out shared principle_pairs.dev.jsonl (36):       C 0.94/0.83  D 0.67/1.00

The last two are optimistic (the rule-layer signals were tuned on those sets). Even
5-fold cross-validation inside the 156-pair set separates contradiction from duplicate
at about chance: no feature here (flip test, value axes, opposition, scales) has an AUC
above 0.6 for that split except word overlap, which reflects how that set was written.
Fitted on all three sets, the model flags 36 contradictions and 92 near-duplicates as
warnings in the shipped ``hhh-v2`` (which must lint clean): the pair sets are balanced,
real constitutions are almost all compatible pairs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "compiler" / "lint" / "pair_model.json"
SHIPPED = ("hhh-v2", "cai-2022-harmless", "modular/assistant", "modular/base", "flawed")


def neutral_pca(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and top-``k`` principal directions of the shipped principle texts."""
    from caic.compiler.lint.encoder import embed
    from caic.compiler.lint.semantics import predicate
    from caic.constitution_lang import load
    from caic.constitutions import find

    texts: set[str] = set()
    for name in SHIPPED:
        try:
            c = load(find(name))
        except Exception:  # noqa: BLE001 - a missing optional constitution is fine
            continue
        for p in c.principles:
            for t in (p.judge, p.critique, p.revision):
                if t:
                    texts.add(predicate(t) or t.lower())
    e = embed(sorted(texts))
    mu = e.mean(0)
    _, _, vt = np.linalg.svd(e - mu, full_matrices=False)
    return mu.astype(np.float32), vt[:k].astype(np.float32)


def tension_axes() -> np.ndarray:
    """Unit differences between the judge texts of each shipped ``tension`` block's sides."""
    from caic.compiler.lint.encoder import embed
    from caic.compiler.lint.semantics import predicate
    from caic.constitution_lang import load
    from caic.constitutions import find

    rows = []
    for name in SHIPPED:
        try:
            c = load(find(name))
        except Exception:  # noqa: BLE001
            continue
        for t in c.tensions:
            a, b = c.principle(t.a).judge, c.principle(t.b).judge
            if a and b:
                ea, eb = embed([predicate(a), predicate(b)])
                d = ea - eb
                rows.append(d / np.linalg.norm(d))
    return np.array(rows, dtype=np.float32).reshape(-1, 384)


def load_pairs(path: Path) -> list[dict[str, str]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def pair_signals(rows: list[dict[str, str]]) -> list[tuple[dict[str, float], np.ndarray]]:
    from caic.compiler.lint.semantics import analyse

    out = []
    for r in rows:
        s = analyse([r["a"], r["b"]], learned=False, signals=True)
        assert s.embeddings is not None
        out.append(({k: float(v[0, 1]) for k, v in s.signals.items()}, s.embeddings))
    return out


def features(
    sig: list[tuple[dict[str, float], np.ndarray]], mu: np.ndarray, basis: np.ndarray
) -> tuple[list[str], np.ndarray]:
    axes = tension_axes()
    from caic.compiler.lint.pair_model import pair_vector

    rows = []
    for s, emb in sig:
        mats = {k: np.array([[0.0, v], [v, 0.0]], dtype=np.float32) for k, v in s.items()}
        rows.append(pair_vector(mats, emb, mu, basis, axes))
    names = sorted(rows[0])
    return names, np.array([[r[n] for n in names] for r in rows], dtype=np.float64)


CLASSES = ("compatible", "contradiction", "duplicate")


def cached_features(
    f: Path, rows: list[dict[str, str]], mu: np.ndarray, basis: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """:func:`features`, memoised under $CAIC_CACHE by the file's and the code's hashes."""
    import hashlib
    import os

    h = hashlib.sha256(f.read_bytes())
    for mod in ("semantics.py", "pair_model.py", "lexicon.py"):
        h.update((ROOT / "compiler" / "lint" / mod).read_bytes())
    h.update(basis.tobytes())
    root = Path(os.environ.get("CAIC_CACHE") or "~/.cache/caic").expanduser()
    path = root / "pair-features" / f"{h.hexdigest()[:32]}.npz"
    if path.exists():
        z = np.load(path)
        return [str(n) for n in z["names"]], z["x"]
    names, x = features(pair_signals(rows), mu, basis)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, names=np.array(names), x=x)
    return names, x


def fit(x: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray, object]:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(0), x.std(0)
    scale[scale < 1e-6] = 1.0
    clf = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    clf.fit((x - mean) / scale, y)
    return mean, scale, clf


def predict(mean: np.ndarray, scale: np.ndarray, clf: object, x: np.ndarray) -> np.ndarray:
    return clf.predict((x - mean) / scale)  # type: ignore[attr-defined,no-any-return]


def pr(y: np.ndarray, p: np.ndarray, label: int) -> tuple[float, float]:
    tp = int(((p == label) & (y == label)).sum())
    fp = int(((p == label) & (y != label)).sum())
    pos = int((y == label).sum())
    return (tp / (tp + fp) if tp + fp else 0.0), (tp / pos if pos else 0.0)


def select(names: list[str], config: str) -> list[int]:
    if config == "rules":
        return [k for k, n in enumerate(names) if n.startswith("rule_")]
    if config.startswith("nopca"):
        return [k for k, n in enumerate(names) if not n.startswith("pca_")]
    if config.startswith("pca"):
        k_max = int(config.removeprefix("pca"))
        return [
            k
            for k, n in enumerate(names)
            if not n.startswith("pca_") or int(n.rsplit("_", 1)[1]) < k_max
        ]
    raise SystemExit(f"unknown config {config}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--rotate", action="store_true")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--config", default="pca4", help="rules | nopca | pcaK")
    ap.add_argument("--C", type=float, default=0.3)
    ap.add_argument("--pca", type=int, default=16, help="PCA directions computed")
    args = ap.parse_args(argv)
    mu, basis = neutral_pca(args.pca)
    sets = []
    for f in args.files:
        rows = load_pairs(f)
        names, x = cached_features(f, rows, mu, basis)
        y = np.array([CLASSES.index(r["label"]) for r in rows])
        sets.append((f, x, y))
        print(f"features for {f}: {x.shape}", file=sys.stderr)
    if args.rotate:
        configs = ["rules", "nopca", "pca2", "pca4", "pca8", "pca16"]
        for config in configs:
            cols = select(names, config)
            for c in (0.03, 0.1, 0.3, 1.0):
                line = []
                worst = 1.0
                for k, (f, x, y) in enumerate(sets):
                    xt = np.concatenate([s[1] for m, s in enumerate(sets) if m != k])[:, cols]
                    yt = np.concatenate([s[2] for m, s in enumerate(sets) if m != k])
                    mean, scale, clf = fit(xt, yt, c)
                    p = predict(mean, scale, clf, x[:, cols])
                    cp, cr = pr(y, p, 1)
                    dp, dr = pr(y, p, 2)
                    worst = min(worst, cp / 0.85, cr / 0.7, dp / 0.8, dr / 0.7)
                    line.append(f"{f.stem[:14]:>14}: C {cp:.2f}/{cr:.2f} D {dp:.2f}/{dr:.2f}")
                print(f"{config:>6} C={c:<5} worst-ratio {worst:.2f} | " + " | ".join(line))
    if args.write:
        cols = select(names, args.config)
        x = np.concatenate([s[1] for s in sets])[:, cols]
        y = np.concatenate([s[2] for s in sets])
        mean, scale, clf = fit(x, y, args.C)
        used = [names[k] for k in cols]
        k_used = max([int(n.rsplit("_", 1)[1]) + 1 for n in used if n.startswith("pca_")] or [0])
        model = {
            "schema_version": 1,
            "about": "Learned pair classifier of caic lint (benchmarks/train_pair_model.py): "
            "three-class logistic regression over standardised pair features.",
            "classes": list(CLASSES),
            "features": used,
            "mean": [round(float(v), 6) for v in mean],
            "scale": [round(float(v), 6) for v in scale],
            "coef": [[round(float(v), 6) for v in row] for row in clf.coef_],  # type: ignore[attr-defined]
            "intercept": [round(float(v), 6) for v in clf.intercept_],  # type: ignore[attr-defined]
            "pca_mean": [round(float(v), 6) for v in mu],
            "pca": [round(float(v), 6) for row in basis[:k_used] for v in row],
            "axes": (
                [round(float(v), 6) for row in tension_axes() for v in row]
                if any(n.startswith("axis_") for n in used)
                else []
            ),
            "margin": 0.0,
            "trained_on": [f"{f.name}: {len(y_)} pairs" for f, _x, y_ in sets],
            "C": args.C,
        }
        OUT.write_text(json.dumps(model, separators=(",", ":")) + "\n", encoding="utf-8")
        print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
