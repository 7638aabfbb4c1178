"""A small learned classifier over pair signals: contradiction, duplicate or compatible.

:func:`caic.compiler.lint.semantics.analyse` reads every judge text into stances and
scores every pair with hand-built relations (opposite directions, antonym scales,
sentence-embedding and TF-IDF similarity). Those signals are good evidence but their
hand-set thresholds did not carry over to pairs written in other words. This module
turns them, plus a few more that need no word list, into symmetric pair features and
applies a three-class logistic regression whose coefficients would ship in
``pair_model.json`` (fitted offline by ``benchmarks/train_pair_model.py``; the file holds
numbers only, never a sentence it was fitted on). **No such file ships at present**: the
fitted model did not generalise to pairs written by someone else and flagged dozens of
pairs in the shipped good constitutions (numbers in that script's docstring), so
:func:`load` returns ``None`` and the rule layer decides. The code stays so that the
experiment can be rerun with better signals.

Features (each an ``n × n`` symmetric matrix, so scoring a constitution is a handful of
matrix operations, never a loop over pairs):

* the rule layer's scores: strength of the best opposed stance pair, the duplicate
  coverage and its margin over the length-dependent threshold, the best same-direction
  and opposite-direction stance similarities, antonym-scale clashes and agreements,
  opposite valence, topic (TF-IDF) overlap;
* whole-principle MiniLM cosine and lemma-bag cosine;
* *flip test*: the cosine of ``a`` with a direction-flipped rewrite of ``b`` (``more`` ↔
  ``less``, ``-est`` → ``least``, a negator dropped, or ``does not`` inserted) against its
  cosine with ``b`` itself, both ways: a contradiction moves closer when flipped;
* ``|p_a − p_b|`` and ``p_a ⊙ p_b`` of the embeddings projected on a few principal
  components fitted on the shipped constitutions' principle texts (a neutral corpus).

``score(signals)`` accumulates the three class logits feature by feature, so memory stays
``O(n²)`` whatever the number of features.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from caic.compiler.lint import lexicon as lx

CLASSES = ("compatible", "contradiction", "duplicate")
SCHEMA_VERSION = 1
MODEL_FILE = "pair_model.json"

_WORD = re.compile(r"[a-z][a-z0-9'-]*")
_SWAP = {
    "more": "less",
    "less": "more",
    "most": "least",
    "least": "most",
    "fewer": "more",
    "fewest": "most",
    "better": "worse",
    "worse": "better",
    "best": "worst",
    "worst": "best",
    "higher": "lower",
    "lower": "higher",
    "greater": "smaller",
}
_NEGATORS = {
    "not": "",
    "never": "",
    "no": "some",
    "without": "with",
    "nothing": "something",
    "none": "some",
    "doesn't": "",
    "don't": "",
    "isn't": "is",
    "aren't": "are",
    "avoids": "",
    "avoid": "",
    "avoiding": "",
    "refuses": "agrees",
    "refuse": "agree",
    "free": "full",
}


def flip(pred: str) -> str:
    """``pred`` with its direction reversed, by general grammar, not by topic words.

    ``more``/``less`` and the other comparative operators are swapped; failing that an
    ``-est`` superlative becomes ``least``; failing that the first negator is dropped
    (``never mentions dosages`` → ``mentions dosages``); otherwise ``does not`` is put
    in front.
    """
    toks = pred.split()
    swapped = [_SWAP.get(t, t) for t in toks]
    if swapped != toks:
        return " ".join(swapped)
    for k, t in enumerate(toks):
        if len(t) > 5 and t.endswith("est") and lx.lemma(t) != t:
            return " ".join([*toks[:k], "least", lx.lemma(t), *toks[k + 1 :]])
    for k, t in enumerate(toks):
        if t in _NEGATORS:
            rep = _NEGATORS[t]
            return " ".join([*toks[:k], *([rep] if rep else []), *toks[k + 1 :]])
    return "does not " + pred


def lemma_bags(preds: Sequence[str]) -> list[frozenset[str]]:
    """Content lemmas of each text (no direction, filler or preposition words)."""
    out = []
    for p in preds:
        out.append(
            frozenset(
                lx.lemma(w)
                for w in _WORD.findall(p)
                if w not in lx.FILLER and w not in lx.OPERATORS and len(w) > 2
            )
        )
    return out


def bag_cosine(bags: Sequence[frozenset[str]]) -> np.ndarray:
    """Cosine of binary bags of lemmas (context-free: no corpus statistics)."""
    n = len(bags)
    vocab = {w: k for k, w in enumerate(sorted(set().union(*bags)))} if bags else {}
    if not vocab:
        return np.zeros((n, n), dtype=np.float32)
    m = np.zeros((n, len(vocab)), dtype=np.float32)
    for i, bag in enumerate(bags):
        for w in bag:
            m[i, vocab[w]] = 1.0
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    m = np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)
    return m @ m.T


@dataclass(frozen=True)
class PairModel:
    """Coefficients of the shipped three-class logistic regression."""

    features: tuple[str, ...]
    """Feature names, in coefficient order."""
    mean: np.ndarray
    """Per-feature mean used for standardisation."""
    scale: np.ndarray
    """Per-feature standard deviation used for standardisation."""
    coef: np.ndarray
    """(3, F) coefficients, rows in :data:`CLASSES` order."""
    intercept: np.ndarray
    """(3,) intercepts."""
    pca_mean: np.ndarray
    """Mean embedding of the neutral corpus."""
    pca: np.ndarray
    """(k, 384) principal directions of the neutral corpus."""
    axes: np.ndarray | None = None
    """(m, 384) value-conflict axes: unit differences of the embeddings of the two sides
    of each ``tension`` block of the shipped constitutions."""
    margin: float = 0.0
    """A pair is a contradiction/duplicate when that class's logit beats the others by
    at least this much."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PairModel:
        return cls(
            features=tuple(data["features"]),
            mean=np.asarray(data["mean"], dtype=np.float32),
            scale=np.asarray(data["scale"], dtype=np.float32),
            coef=np.asarray(data["coef"], dtype=np.float32),
            intercept=np.asarray(data["intercept"], dtype=np.float32),
            pca_mean=np.asarray(data["pca_mean"], dtype=np.float32),
            pca=np.asarray(data["pca"], dtype=np.float32).reshape(-1, len(data["pca_mean"])),
            axes=(
                np.asarray(data["axes"], dtype=np.float32).reshape(-1, len(data["pca_mean"]))
                if data.get("axes")
                else None
            ),
            margin=float(data.get("margin", 0.0)),
        )


@functools.cache
def load() -> PairModel | None:
    """The shipped model, or ``None`` when the package has no coefficients file."""
    try:
        raw = resources.files("caic.compiler.lint").joinpath(MODEL_FILE).read_text("utf-8")
    except (OSError, ModuleNotFoundError):
        return None
    return PairModel.from_json(json.loads(raw))


def feature_matrices(
    signals: Mapping[str, np.ndarray],
    emb: np.ndarray,
    pca_mean: np.ndarray,
    pca: np.ndarray,
    axes: np.ndarray | None = None,
) -> Iterator[tuple[str, Callable[[], np.ndarray]]]:
    """(name, thunk → n × n matrix) for every feature; thunks keep memory at O(n²)."""
    for name in sorted(signals):
        yield name, functools.partial(signals.__getitem__, name)
    if axes is not None and len(axes):
        t = (emb - pca_mean) @ axes.T  # n × axes
        yield "axis_opposition", functools.partial(_axis, t, -1.0)
        yield "axis_alignment", functools.partial(_axis, t, 1.0)
    proj = (emb - pca_mean) @ pca.T if len(pca) else np.zeros((len(emb), 0), np.float32)
    for k in range(proj.shape[1]):
        col = proj[:, k]
        yield f"pca_absdiff_{k}", functools.partial(_absdiff, col)
        yield f"pca_prod_{k}", functools.partial(np.multiply.outer, col, col)


def _axis(t: np.ndarray, sign: float) -> np.ndarray:
    """max over value axes of ``sign · t_a · t_b`` (opposite or same side of an axis)."""
    out = np.zeros((t.shape[0], t.shape[0]), dtype=np.float32)
    for k in range(t.shape[1]):
        np.maximum(out, sign * np.multiply.outer(t[:, k], t[:, k]), out=out)
    return out


def _absdiff(col: np.ndarray) -> np.ndarray:
    return np.abs(col[:, None] - col[None, :])


def score(model: PairModel, signals: Mapping[str, np.ndarray], emb: np.ndarray) -> np.ndarray:
    """(3, n, n) class logits for every pair."""
    n = emb.shape[0]
    logits = np.zeros((3, n, n), dtype=np.float32)
    logits += model.intercept[:, None, None]
    index = {f: k for k, f in enumerate(model.features)}
    for name, thunk in feature_matrices(signals, emb, model.pca_mean, model.pca, model.axes):
        k = index.get(name)
        if k is None:
            continue
        x = (np.asarray(thunk(), dtype=np.float32) - model.mean[k]) / model.scale[k]
        for c in range(3):
            logits[c] += model.coef[c, k] * x
    return logits


def pair_vector(
    signals: Mapping[str, np.ndarray],
    emb: np.ndarray,
    pca_mean: np.ndarray,
    pca: np.ndarray,
    axes: np.ndarray | None = None,
    i: int = 0,
    j: int = 1,
) -> dict[str, float]:
    """Every feature of one pair, by name (for training)."""
    return {
        name: float(thunk()[i, j])
        for name, thunk in feature_matrices(signals, emb, pca_mean, pca, axes)
    }
