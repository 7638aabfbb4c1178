"""The learned pair classifier: contradiction, near-duplicate or compatible.

all-MiniLM-L6-v2, cut to its first blocks (three in the shipped model) with each block's
feed-forward layer pruned to the neurons that contribute most (512 of 1,536 in the shipped
model), with LoRA adapters on their linear layers, fine-tuned together with a linear head
on pairs of judge principles (``benchmarks/train_pair_encoder.py``; pairs written for this
project in ``benchmarks/data/principle_pairs*.jsonl`` plus templated ones from
``benchmarks/pair_templates.py``). A principle, without its comparative frame, becomes a
unit vector ``u``; a pair is read from ``[u*v, (u-v)**2, u.v]`` (scaled), which is
symmetric in the pair. Sentence embeddings alone place "the shortest response" next to
"the most detailed response" -- same topic -- and say nothing about direction;
fine-tuning moves opposite stances apart along directions the head can read, which no
word list does for pairs written in other words.

Speed: the squared difference expands into matrix products, so every pair of a
1,000-principle constitution is scored in three ``n x 384 @ 384 x n`` products; the
encoder is what costs, and three blocks with a third of their feed-forward neurons take
about 60% of the time of three whole blocks (a third of the six-block model's), with the
same numbers on held-out pairs (README). An older model file reading ``|u-v|`` (``diff``
absent or 0) is still scored, in row chunks.

The shipped file ``pair_encoder.npz`` holds the LoRA factors (float16), their scale, the
number of blocks, the kept feed-forward neurons per block (``ffn.N``), the difference
feature and the head: numbers only, no text. A model distilled by
``benchmarks/distil_pair_encoder.py`` (tried, not shipped) may also replace a layer's
parameters outright. ``CAIC_PAIR_ENCODER=FILE`` uses another fitted model
(``train_pair_encoder.py --save``).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from caic.compiler.lint.encoder import TunedHead, read_tuned_head

FILE = Path(__file__).with_name("pair_encoder.npz")
CLASSES = ("compatible", "contradiction", "duplicate")
SCALE = (384.0, 19.6, 5.0)
"""Feature scales (``u*v``, ``|u-v|``, ``u.v``), as in training."""
SCALE_SQ = 192.0
"""Scale of ``(u-v)**2`` when the head reads the squared difference instead of ``|u-v|``."""
_ROWS = 64


@dataclass(frozen=True)
class PairEncoder(TunedHead):
    """The fitted adapters and head; the head's weights are (3, 769): classes x
    [u*v, |u-v|, u.v]."""

    squared: bool
    """The head reads ``(u-v)**2`` (else ``|u-v|``)."""
    ffn: tuple[np.ndarray, ...]
    """Per block, the feed-forward neurons kept (``train_pair_encoder.py --ffn``); empty
    when the blocks are whole."""
    heads: tuple[np.ndarray, ...]
    """Per block, the attention heads kept (``train_pair_encoder.py --heads``); empty when
    every head runs."""


def path() -> Path:
    """The shipped weights, or the file ``CAIC_PAIR_ENCODER`` names (a model fitted by
    ``benchmarks/train_pair_encoder.py --save``)."""
    return Path(os.environ.get("CAIC_PAIR_ENCODER") or FILE)


@functools.lru_cache(maxsize=1)
def load() -> PairEncoder | None:
    """The pair encoder, or ``None`` when the file is absent."""
    file = path()
    if not file.is_file():
        if os.environ.get("CAIC_PAIR_ENCODER"):
            from caic.compiler.lint.encoder import EncoderUnavailable

            raise EncoderUnavailable(f"CAIC_PAIR_ENCODER: no such file: {file}")
        return None
    head = read_tuned_head(file, default_layers=6)
    arrays, layers = head["lora"], head["layers"]
    return PairEncoder(
        **head,
        squared=bool(arrays.pop("diff", 0)),
        ffn=_pop_per_block(arrays, "ffn", layers),
        heads=_pop_per_block(arrays, "heads", layers),
    )


def _pop_per_block(arrays: dict[str, np.ndarray], name: str, layers: int) -> tuple[np.ndarray, ...]:
    """The index arrays ``NAME.0`` ... of the blocks that have one (kept neurons or
    heads), removed from ``arrays`` so that only the LoRA factors stay there."""
    keys = [f"{name}.{i}" for i in range(layers)]
    return tuple(arrays.pop(k).astype(np.int64) for k in keys if k in arrays)


def pair_probabilities(u: np.ndarray) -> np.ndarray:
    """Class probabilities ``(3, n, n)`` (compatible, contradiction, duplicate) for every pair
    of texts, from their tuned unit vectors ``u`` (one row per text)."""
    from caic.compiler.lint.encoder import DIM, EncoderUnavailable

    model = load()
    if model is None:
        raise EncoderUnavailable("no pair encoder is installed")
    n = len(u)
    w_prod = model.weight[:, :DIM] * SCALE[0]
    w_diff = model.weight[:, DIM : 2 * DIM] * (SCALE_SQ if model.squared else SCALE[1])
    w_dot = model.weight[:, 2 * DIM] * SCALE[2]
    logits = np.empty((len(CLASSES), n, n), dtype=np.float32)
    if model.squared:
        # w.(u-v)**2 = w.u**2 + w.v**2 - 2 (u*w).v, and w_dot u.v = (u*w_dot).v: the
        # whole head is one matrix product per class plus a term per row and column.
        unary = (u * u) @ w_diff.T + 0.5 * model.bias  # n x classes
        for k in range(len(CLASSES)):
            np.matmul(u * (w_prod[k] - 2.0 * w_diff[k] + w_dot[k]), u.T, out=logits[k])
            logits[k] += unary[:, k, None]
            logits[k] += unary[None, :, k]
    else:
        dot = u @ u.T
        for k in range(len(CLASSES)):
            logits[k] = (u * w_prod[k]) @ u.T + w_dot[k] * dot + model.bias[k]
        for s in range(0, n, _ROWS):
            diff = np.abs(u[s : s + _ROWS, None, :] - u[None, :, :])  # rows x n x DIM
            logits[:, s : s + _ROWS] += np.einsum("rnd,kd->krn", diff, w_diff, optimize=True)
    logits -= logits.max(0, keepdims=True)
    prob = np.exp(logits, out=logits)
    prob /= prob.sum(0, keepdims=True)
    return prob
