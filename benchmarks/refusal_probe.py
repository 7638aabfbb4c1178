"""A linear refusal model, scored leave-one-source-out: a measured negative result.

    python benchmarks/refusal_probe.py DATA [--final] [--json F]

    e.g. python benchmarks/refusal_probe.py ../shared/data/refusal

Question: does a softmax regression over the rule classifier's evidence and the words of
a completion generalise to other models' output better than the rules alone? Answer
(docs/benchmarks.md, "Refusal classifier"): no, not enough to ship. Trained without a
source and scored on it, it matched the rules on purseclab (binary 76.3% both), beat them
by 2.5 points on gptfuzz (70.8% against 68.3%) and lost 6 points on the project's own
completions; adding frozen MiniLM embeddings of the completion's head and tail and their
similarity to the prompt moved no source by more than 2 points. It is kept as the harness
that the next attempt (a fine-tuned encoder) is measured with.

Features, per completion:

- *rule features*: the rules' class, the share of each clause tag (``refusal``, ``moral``,
  ``content`` ...), the tags of the first two clauses and where the first refusal falls;
- *word features*: word 1-3-grams of the opening (first 40 words), the close (last 25)
  and the whole text's words, hashed (``HashingVectorizer``) into 2**16 buckets.

DATA is the folder of public human-labelled responses described in its README (purseclab,
gptfuzz, harmbench-val); it is read at run time only, never copied. The project's own
labelled completions (``benchmarks/data/refusal_completions.jsonl``) are a fourth source.
gptfuzz's ``evaluate`` split never trains anything and is scored only with ``--final``.

Labels, by what each gold label means:

- three-way sources (our own, purseclab): the class itself; purseclab's 41 "SV, not I,
  not RT" rows ("Sure, here is ..." with nothing useful) are left out of training and
  scored on their own line as full_compliance;
- gptfuzz ("jailbroken": the harmful content was given): 1 -> full_compliance or
  partial_refusal (a refusal followed by the content is partial under XSTest's scheme),
  0 -> full_refusal; harmbench-val ``unsafe`` -> full_compliance or partial_refusal;
  ``safe`` is no refusal label and is not used.

The loss is the negative log of the probability of the allowed classes, so a set-valued
label never pushes one of its members down. Each source weighs the same in total
(harmbench, one-sided, half). The temperature is fitted on a fifth of the training rows
held out of the weights' fit. Binary accuracy follows the gold's meaning too: for
three-way sources refusal = full or partial refusal (XSTest's convention); for gptfuzz
and harmbench, compliance = full compliance or partial refusal (content was given).
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from refusal_sources import (  # noqa: E402
    Row,
    _refused,
    baseline,
    load_public,
)

from caic.evals.metrics import expected_calibration_error, wilson  # noqa: E402
from caic.evals.refusal import (  # noqa: E402
    LABELS,
    classify,
    normalise_label,
    normalise_text,
)
from caic.evals.refusal_model import N_RULE, rule_features  # noqa: E402,F401

N_HASH = 2**16
"""Hash buckets for the word n-grams."""
HEAD_WORDS, TAIL_WORDS = 40, 25
_WORD = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")


def _ngrams(prefix: str, words: list[str]) -> list[str]:
    out = [f"{prefix}{w}" for w in words]
    out += [f"{prefix}{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    out += [f"{prefix}{a} {b} {c}" for a, b, c in zip(words, words[1:], words[2:], strict=False)]
    return out


def _analyzer(text: str) -> list[str]:
    words = _WORD.findall(normalise_text(text).lower())
    head, tail = words[:HEAD_WORDS], words[-TAIL_WORDS:]
    return _ngrams("h:", head) + _ngrams("t:", tail) + [f"a:{w}" for w in set(words)]


@functools.lru_cache(maxsize=1)
def _hasher() -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(analyzer=_analyzer, n_features=N_HASH, alternate_sign=False, norm="l2")


def word_features(completions: Sequence[str]) -> Any:
    """Hashed, L2-normalised n-gram counts: a ``scipy.sparse`` matrix, one row each."""
    return _hasher().transform(list(completions))


def features(completions: Sequence[str], prompts: Sequence[str | None]) -> Any:
    """Word and rule features side by side, as one sparse matrix (CSR)."""
    import scipy.sparse as sp

    rules = np.stack([rule_features(c, p) for c, p in zip(completions, prompts, strict=True)])
    return sp.hstack([word_features(completions), sp.csr_matrix(rules)], format="csr")


ROOT = Path(__file__).resolve().parent.parent
OWN = ROOT / "benchmarks" / "data" / "refusal_completions.jsonl"
FC, FR, PR = (LABELS.index(c) for c in ("full_compliance", "full_refusal", "partial_refusal"))
THREE_WAY = {"caic-written", "purseclab"}
L2 = 1e-4


@dataclass(frozen=True)
class Example:
    row: Row
    allowed: tuple[int, ...]
    """Class indices the gold label allows; empty = not used for training."""


def load_own() -> list[Row]:
    rows = []
    for line in OWN.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        rows.append(Row("caic-written", "all", r["prompt"], r["completion"],
                        normalise_label(r["label"])))  # fmt: skip
    return rows


def allowed(row: Row) -> tuple[int, ...]:
    if row.gold is None or row.ambiguous:
        return ()
    if row.source in THREE_WAY:
        return (LABELS.index(row.gold),)
    return (FC, PR) if row.gold == "full_compliance" else (FR,)


def load_all(data: Path) -> list[Example]:
    rows = load_own() + load_public(data)
    return [Example(r, allowed(r)) for r in rows]


def fit(x: Any, sets: Sequence[tuple[int, ...]], weights: np.ndarray) -> tuple[Any, Any]:
    """Softmax regression with set-valued labels, full-batch L-BFGS (torch)."""
    import torch

    torch.manual_seed(0)
    coo = x.tocoo()
    index = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    values = torch.from_numpy(coo.data.astype(np.float32))
    xt = torch.sparse_coo_tensor(index, values, coo.shape, check_invariants=True)
    xt = xt.to_sparse_csr()
    mask = torch.zeros((x.shape[0], len(LABELS)), dtype=torch.bool)
    for i, s in enumerate(sets):
        mask[i, list(s)] = True
    w = torch.zeros((x.shape[1], len(LABELS)), requires_grad=True)
    b = torch.zeros(len(LABELS), requires_grad=True)
    wt = torch.tensor(weights / weights.sum(), dtype=torch.float32)
    opt = torch.optim.LBFGS([w, b], max_iter=300, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> Any:
        opt.zero_grad()
        logits = xt @ w + b
        total = torch.logsumexp(logits, dim=1)
        hit = torch.logsumexp(logits.masked_fill(~mask, -1e9), dim=1)
        loss = (wt * (total - hit)).sum() + L2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), b.detach().numpy()


def fit_temperature(logits: np.ndarray, sets: Sequence[tuple[int, ...]]) -> float:
    """The temperature that minimises the held-out set-valued log loss (grid search)."""
    best, best_t = float("inf"), 1.0
    for t in np.exp(np.linspace(np.log(0.25), np.log(4.0), 41)):
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = -np.mean([np.logaddexp.reduce(logp[i, list(s)]) for i, s in enumerate(sets)])
        if loss < best:
            best, best_t = loss, float(t)
    return best_t


@dataclass(frozen=True)
class Linear:
    """A fitted model: weights, bias and the held-out temperature."""

    weight: np.ndarray
    bias: np.ndarray
    temperature: float

    def probs(self, x: Any) -> np.ndarray:
        z = np.asarray(x @ self.weight + self.bias, dtype=np.float64) / self.temperature
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)


def train(examples: Sequence[Example], x_all: Any) -> Linear:
    """Fit on the examples with a label (``x_all``: features of ``examples``, row for row)."""
    keep = [i for i, e in enumerate(examples) if e.allowed]
    used = [examples[i] for i in keep]
    x = x_all[keep]
    per_source = Counter(e.row.source for e in used)
    factor = {"harmbench-val": 0.5}
    weights = np.array(
        [factor.get(e.row.source, 1.0) / per_source[e.row.source] for e in used], np.float64
    )
    sets = [e.allowed for e in used]
    rng = random.Random(0)
    held = np.array([rng.random() < 0.2 for _ in used])
    w, b = fit(x[~held], [s for s, h in zip(sets, held, strict=True) if not h], weights[~held])
    t = fit_temperature(
        np.asarray(x[held] @ w + b), [s for s, h in zip(sets, held, strict=True) if h]
    )
    w, b = fit(x, sets, weights)
    return Linear(w, b, t)


# -- scoring ---------------------------------------------------------------------------------


def score(name: str, rows: Sequence[Row], probs: np.ndarray) -> dict[str, Any]:
    preds = [LABELS[int(i)] for i in probs.argmax(axis=1)]
    rules = [classify(r.completion, r.prompt) for r in rows]
    base = [baseline(r.completion) for r in rows]
    out: dict[str, Any] = {"name": name, "n": len(rows)}
    for who, p in (("model", preds), ("rules", rules), ("phrase", base)):
        k = sum(
            _refused(r.gold, r.source) == _refused(q, r.source)  # type: ignore[arg-type]
            for r, q in zip(rows, p, strict=True)
        )
        out[f"{who}_binary"] = (k, wilson(k, len(rows)))
        if rows and rows[0].source in THREE_WAY:
            k3 = sum(r.gold == q for r, q in zip(rows, p, strict=True))
            out[f"{who}_3way"] = (k3, wilson(k3, len(rows)))
    pc = {}
    for c in LABELS:
        tp = sum(r.gold == c and q == c for r, q in zip(rows, preds, strict=True))
        npred = sum(q == c for q in preds)
        ngold = sum(r.gold == c for r in rows)
        pc[c] = (tp / npred if npred else None, tp / ngold if ngold else None, npred, ngold)
    out["per_class"] = pc
    # Calibration of the binary probability: expected calibration error over 10 bins.
    if rows and rows[0].source in THREE_WAY:
        p_bin = probs[:, FC]
        y_bin = np.array([r.gold == "full_compliance" for r in rows], float)
    else:
        p_bin = 1.0 - probs[:, FR]
        y_bin = np.array([r.gold != "full_refusal" for r in rows], float)
    ece = expected_calibration_error(
        [(float(q), bool(y)) for q, y in zip(p_bin, y_bin, strict=True)]
    )
    out["ece"] = ece or 0.0
    return out


def show(s: dict[str, Any]) -> None:
    def f(key: str) -> str:
        if key not in s:
            return "      -      "
        k, (lo, hi) = s[key]
        return f"{k / s['n']:6.1%} [{lo:.1%}-{hi:.1%}]"

    print(f"{s['name']:<34}{s['n']:>6}  model {f('model_binary')}  rules {f('rules_binary')}  "
          f"phrase {f('phrase_binary')}  ECE {s['ece']:.3f}")  # fmt: skip
    if "model_3way" in s:
        print(f"{'  three-way':<40}  model {f('model_3way')}  rules {f('rules_3way')}")
        for c, (p, r, npred, ngold) in s["per_class"].items():
            ps = "-" if p is None else f"{p:.1%}"
            rs = "-" if r is None else f"{r:.1%}"
            print(
                f"      {c:<16} precision {ps:>6} recall {rs:>6}  ({npred} predicted, {ngold} gold)"
            )


def groups(rows: Sequence[Row], final: bool) -> dict[str, list[int]]:
    g: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        if r.gold is None or (r.source == "gptfuzz" and r.sub == "evaluate" and not final):
            continue
        g.setdefault(r.source, []).append(i)
        if r.source in ("purseclab", "gptfuzz"):
            g.setdefault(f"{r.source} / {r.sub}", []).append(i)
        if r.ambiguous:
            g.setdefault("purseclab / SV-only", []).append(i)
    return g


def with_embeddings(x: Any, examples: Sequence[Example]) -> Any:
    """``x`` beside the plain MiniLM vectors of each completion's head (first 128 tokens)
    and close (last 60 words), and the cosine of each with the prompt's vector."""
    import scipy.sparse as sp

    from caic.compiler.lint.encoder import _NumpyMiniLM, model_dir

    encode = _NumpyMiniLM(model_dir())
    head = encode([e.row.completion for e in examples])
    tail = encode([" ".join(e.row.completion.split()[-60:]) for e in examples])
    prompt = encode([e.row.prompt for e in examples])
    cos = [(v * prompt).sum(axis=1, keepdims=True) for v in (head, tail)]
    return sp.hstack([x, sp.csr_matrix(np.hstack([head, tail, *cos]))], format="csr")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--final", action="store_true", help="also score gptfuzz's evaluate split")
    ap.add_argument("--json", type=Path, help="write every number here")
    ap.add_argument(
        "--embeddings",
        action="store_true",
        help="add frozen MiniLM embeddings of the completion's head and last 60 words and "
        "their cosine with the prompt's (about 9 minutes on 2 cores)",
    )
    args = ap.parse_args()
    t0 = time.perf_counter()
    examples = load_all(args.data)
    x_all = features([e.row.completion for e in examples], [e.row.prompt for e in examples])
    if args.embeddings:
        x_all = with_embeddings(x_all, examples)
    print(f"{len(examples)} rows loaded and featurised in {time.perf_counter() - t0:.0f} s",
          file=sys.stderr)  # fmt: skip

    def subset(pick: Any) -> tuple[list[Example], Any]:
        idx = [i for i, e in enumerate(examples) if pick(e)]
        return [examples[i] for i in idx], x_all[idx]

    results = []
    for held in ("caic-written", "purseclab", "gptfuzz", "harmbench-val"):
        t1 = time.perf_counter()
        model = train(*subset(lambda e, h=held: e.row.source != h and not _held_back(e)))
        test_ex, x_test = subset(lambda e, h=held: e.row.source == h)
        test = [e.row for e in test_ex]
        probs = model.probs(x_test)
        print(f"== without {held} (T={model.temperature:.2f}, {time.perf_counter() - t1:.0f} s)")
        for name, idx in groups(test, args.final).items():
            s = score(name, [test[i] for i in idx], probs[idx])
            show(s)
            results.append(s)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


def _held_back(e: Example) -> bool:
    """gptfuzz's evaluate split never trains anything (it is the final check)."""
    return e.row.source == "gptfuzz" and e.row.sub == "evaluate"


if __name__ == "__main__":
    sys.exit(main())
