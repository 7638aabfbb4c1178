"""Distil the pair encoder into a smaller one: the same blocks with fewer feed-forward neurons.

Usage::

    python benchmarks/distil_pair_encoder.py --ffn 768 --save /tmp/student.npz
    CAIC_PAIR_ENCODER=/tmp/student.npz python benchmarks/lint_pairs.py --speed

Not shipped: the students were faster but did not decide as the teacher does (below). The
shipped model is pruned the other way, before fine-tuning (``train_pair_encoder.py --ffn
512 --rank 16``), and was measured on the held-out pairs against whole blocks (README).

Two thirds of a MiniLM block's arithmetic is its feed-forward layer (384 -> 1536 -> 384
per token), and a new file's lint time is mostly that arithmetic. The student is the
teacher (the fitted pair encoder, LoRA merged) keeping the ``--ffn`` feed-forward neurons
per block that contribute most on a corpus, with each block's output projection refitted
by least squares so that the block reproduces the teacher's (:func:`refit`). The
teacher's classification head is kept as it is: a student that reproduces the teacher's
vectors makes the teacher's decisions, so no labels are used and the written held-out
pair sets stay unseen. The corpus is every principle text of the training pair files,
templated principles (``benchmarks/pair_templates.py``) and the judge texts of two
shipped constitutions; the generated ``lint_pairs.py --speed`` file is not in it.

The script prints how closely the student follows the teacher (cosine of their vectors,
agreement of the decided class over all pairs of held-out texts) and writes a model file
of the usual format (``compiler/lint/pair_encoder.npz``) with the refitted layers in
place of their LoRA factors.

Measured with the model shipped before (three whole blocks; the shipped model is pruned
already and is refused as ``--teacher``) as teacher (96 texts of
``tests/data/lint_pairs.jsonl``, 4,560 pairs; new-file time from ``lint_pairs.py
--speed``, median of 3):

=========================  ===========  ==============  ====================  ========
student                    cosine mean  class agrees    ... where either      new file
                           (min)        (all pairs)     flags the pair
=========================  ===========  ==============  ====================  ========
teacher                    1            1               1                     2.72 s
1,024 neurons, refit       0.986 (0.95) 0.965           0.79                  --
768 neurons, refit         0.974 (0.92) 0.952           0.74                  2.44 s
512 neurons, refit         0.956 (0.88) 0.933           0.62                  2.36 s
768, LoRA r64 on vectors   0.979 (0.93) 0.960           0.77                  --
=========================  ===========  ==============  ====================  ========

Pair metrics on the held-out sets stayed close to the teacher's, but each student
changed findings on the shipped constitutions (``tests/test_lint_shipped.py``), and a
quarter of the flagged pairs changing class is too much for a cache-free speed-up of
0.3 s. Trained from scratch with ``train_pair_encoder.py --ffn 768`` the result was
similar (held-out numbers as good, three shipped-constitution findings changed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import train_pair_encoder as tpe  # noqa: E402

DATA = ROOT / "benchmarks" / "data"


def corpus(templates: int, seed: int) -> list[str]:
    """Principle texts (frame removed, as the linter reads them), each once."""
    from pair_templates import template_pairs

    from caic.compiler.lint.semantics import predicate
    from caic.constitution_lang import load
    from caic.constitutions import find

    texts: set[str] = set()
    for f in sorted(DATA.glob("principle_pairs*.jsonl")):
        for line in f.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                texts.update((r["a"], r["b"]))
    for a, b, _ in template_pairs(templates, seed):
        texts.update((a, b))
    for name in ("hhh-v2", "cai-2022-harmless"):
        texts.update(p.judge for p in load(find(name)).principles if p.judge)
    return sorted({predicate(t) or t.lower() for t in texts})


def held_out_texts() -> list[str]:
    """Texts of the held-out pair sets: only to measure agreement, never trained on."""
    from caic.compiler.lint.semantics import predicate

    out: set[str] = set()
    for f in (ROOT / "tests" / "data" / "lint_pairs.jsonl",):
        for line in f.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                out.update(predicate(t) or t.lower() for t in (r["a"], r["b"]))
    return sorted(out)


def refit(engine, texts: list[str], ffn: int, ridge: float):  # type: ignore[no-untyped-def]
    """Prune each block's feed-forward layer to ``ffn`` neurons and refit its output
    projection by least squares, block by block.

    ``engine`` is the teacher (the numpy encoder, LoRA merged). For block ``l`` the
    student's input ``x_s`` comes through the student's blocks before it; the kept
    neurons are those that contribute most on the corpus (mean |activation| on the
    teacher's tokens times the norm of their output weights); their output weights and
    bias are then the ridge solution of ``gelu(a_s W_in + b_in) W + b = ffn_t(a_t) + a_t -
    a_s`` over every real token, so that the block's sum before its last layer norm
    matches the teacher's. A linear problem with 384 targets per token: it needs no
    labels and generalises far better than matching pooled vectors (tried: LoRA on the
    pruned blocks reached cosine 0.98 to the teacher on held-out texts, 0.99 in training).
    Returns the kept indices and the new ``(weight, bias)`` per block.
    """
    from caic.compiler.lint.encoder import _gelu, _layer_norm

    batches = []
    for _, ids, mask in engine.padded_batches(texts):
        x = engine.embed_tokens(ids)
        batches.append(
            {
                "b": ids.shape[0],
                "n": ids.shape[1],
                "bias": ((1.0 - mask) * np.float32(-1e9))[:, None, None, :],
                "real": mask.reshape(-1) > 0,
                "t": x,
                "s": x.copy(),
            }
        )
    keep, fitted = [], []
    for L in engine.layers:
        score = np.zeros(L["i_w"].shape[1], dtype=np.float64)
        for bt in batches:
            bt["at"] = engine.attention(bt["t"], bt["bias"], bt["b"], bt["n"], L)
            bt["as"] = engine.attention(bt["s"], bt["bias"], bt["b"], bt["n"], L)
            h = _gelu(bt["at"][bt["real"]] @ L["i_w"] + L["i_b"])
            score += np.abs(h).sum(0)
        score *= np.linalg.norm(L["f_w"], axis=1)
        idx = np.sort(np.argsort(-score)[:ffn])
        k = len(idx) + 1
        gram = np.zeros((k, k), dtype=np.float64)
        rhs = np.zeros((k, L["f_w"].shape[1]), dtype=np.float64)
        for bt in batches:
            # The teacher's block sum and the student's kept activations, every token
            # (padding too: the next block reads them); the fit uses the real ones.
            bt["sum_t"] = engine.feed_forward(bt["at"], L) + L["f_b"] + bt["at"]
            bt["h"] = _gelu(bt["as"] @ L["i_w"][:, idx] + L["i_b"][idx])
            real = bt["real"]
            h1 = np.concatenate([bt["h"][real], np.ones((int(real.sum()), 1), np.float32)], axis=1)
            gram += h1.T.astype(np.float64) @ h1
            rhs += h1.T.astype(np.float64) @ (bt["sum_t"][real] - bt["as"][real])
        gram[np.diag_indices(k - 1)] += ridge * np.trace(gram) / k
        sol = np.linalg.solve(gram, rhs).astype(np.float32)
        w, b = sol[:-1], sol[-1]
        for bt in batches:
            bt["s"] = _layer_norm(bt.pop("h") @ w + b + bt["as"], *L["ln2"])
            bt["t"] = _layer_norm(bt.pop("sum_t"), *L["ln2"])
        keep.append(idx)
        fitted.append((w, b))
        print(f"  block {len(keep)}: kept {len(idx)} neurons", file=sys.stderr)
    return keep, fitted


def export(teacher, keep, fitted, path: Path) -> None:  # type: ignore[no-untyped-def]
    """The teacher's LoRA factors (its ``intermediate.dense`` ones sliced to the kept
    neurons), the refitted ``output.dense`` of each block in place of its factors, the
    kept indices and the teacher's head."""
    arrays: dict[str, np.ndarray] = {}
    for name, value in teacher.lora.items():
        if name == "scale":
            continue
        key, part = name.rsplit(".", 1)  # layer.N.intermediate.dense, A
        block = int(key.split(".")[1])
        if key == f"layer.{block}.output.dense":
            continue  # replaced below
        if key == f"layer.{block}.intermediate.dense" and part == "B":
            value = value[keep[block]]
        arrays[name] = value
    for block, (w, b) in enumerate(fitted):
        arrays[f"layer.{block}.output.dense.weight"] = w.T.astype(np.float16)
        arrays[f"layer.{block}.output.dense.bias"] = b.astype(np.float32)
    arrays["scale"] = np.asarray(teacher.lora["scale"], dtype=np.float32)
    arrays["layers"] = np.array(teacher.layers, dtype=np.int64)
    arrays["diff"] = np.array(1 if teacher.squared else 0, dtype=np.int64)
    for i, idx in enumerate(keep):
        # As indices into MiniLM's 1,536 neurons (a pruned teacher kept a subset already).
        orig = teacher.ffn[i][idx] if teacher.ffn else idx
        arrays[f"ffn.{i}"] = np.asarray(orig, dtype=np.int16)
    arrays["head.weight"] = teacher.weight
    arrays["head.bias"] = teacher.bias
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def agreement(teacher_path: Path, student_path: Path, texts: list[str]) -> None:
    """Cosine between teacher and student vectors, and how often the class they decide
    for a pair of texts agrees (every pair of ``texts``), through the linter's engines."""
    from caic.compiler.lint import encoder, pair_encoder

    out = {}
    for label, p in (("teacher", teacher_path), ("student", student_path)):
        os.environ["CAIC_PAIR_ENCODER"] = str(p)
        pair_encoder.load.cache_clear()
        encoder._engine.cache_clear()
        u = encoder._engine("numpy", True)(texts)
        out[label] = (u, pair_encoder.pair_probabilities(u))
    (ut, pt), (us, ps) = out["teacher"], out["student"]
    cos = (ut * us).sum(1)
    iu = np.triu_indices(len(texts), 1)
    ct, cs = pt.argmax(0)[iu], ps.argmax(0)[iu]
    print(
        f"held-out texts: {len(texts)}; vector cosine teacher/student mean {cos.mean():.4f}, "
        f"min {cos.min():.4f}; decided class agrees on {np.mean(ct == cs):.4f} of "
        f"{len(ct)} pairs (of pairs either calls non-compatible: "
        f"{np.mean((ct == cs)[(ct > 0) | (cs > 0)]):.3f})"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teacher", type=Path, default=tpe.OUT, help="fitted pair encoder")
    ap.add_argument("--ffn", type=int, default=768, help="feed-forward neurons kept per block")
    ap.add_argument("--templates", type=int, default=4000, help="templated pairs in the corpus")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--ridge", type=float, default=1e-4, help="ridge, relative to the mean diagonal"
    )
    ap.add_argument("--save", type=Path, help="write the student here")
    ap.add_argument("--write", action="store_true", help=f"write {tpe.OUT.relative_to(ROOT)}")
    a = ap.parse_args()
    from caic.compiler.lint import encoder, pair_encoder

    teacher_path = a.teacher.resolve()
    os.environ["CAIC_PAIR_ENCODER"] = str(teacher_path)
    teacher = pair_encoder.load()
    assert teacher is not None
    if teacher.ffn:
        # Kept neurons would have to be composed with the teacher's own; not supported.
        raise SystemExit(
            f"{teacher_path}: the teacher's feed-forward layers are already pruned "
            f"({len(teacher.ffn[0])} neurons); give a whole-block model with --teacher"
        )
    texts = corpus(a.templates, a.seed)
    print(f"corpus: {len(texts)} texts", file=sys.stderr)
    t = time.perf_counter()
    keep, fitted = refit(encoder._engine("numpy", True), texts, a.ffn, a.ridge)
    print(f"refitted in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    out = a.save or (tpe.OUT if a.write else None)
    if out is None:
        out = Path("/tmp/caic-student.npz")
    if out.resolve() == teacher_path:
        raise SystemExit("--write would overwrite the teacher: copy it elsewhere first")
    export(teacher, keep, fitted, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    agreement(teacher_path, out, held_out_texts())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
