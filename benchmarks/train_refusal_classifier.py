"""Train caic's refusal classifier and measure it leave-one-source-out.

    python benchmarks/train_refusal_classifier.py DATA [--held SOURCE ...] [--json F]
        [--save FILE] [--final] [--epochs 2] [--per-source 1000] [--layers 3]

    e.g. measure:  python benchmarks/train_refusal_classifier.py ../shared/data/refusal \
                       --held purseclab gptfuzz caic-written --json /tmp/loso.json
         ship:     python benchmarks/train_refusal_classifier.py ../shared/data/refusal \
                       --held --save evals/refusal_classifier.npz

The model is :mod:`caic.evals.refusal_model`'s (MiniLM cut to ``--layers`` blocks, LoRA on
every linear layer, a linear head over the pooled state and the rules' evidence); this
script fits it in torch and writes the numbers the numpy engine reads. DATA is the folder
of public human-labelled responses (purseclab, gptfuzz, harmbench-val; read here, never
copied). The project's own labelled completions are the fourth source, ``caic-written``:
``benchmarks/data/refusal_completions.jsonl`` (the 591 the rules were tuned on, sub-source
``rules-dev``) and ``benchmarks/data/refusal_more/*.jsonl`` (written later, sub-source the
file's name). Labels and their reading per source are ``refusal_probe.py``'s: set-valued
where the gold is binary, three-way where it has three classes.

For every ``--held`` source (or own file, ``caic-written:STEM``): train on the rest,
report it (binary and three-way with Wilson intervals, per class, ECE, the rules and a
refusal-phrase match on the same rows) and keep, with ``--json``, its confusion matrices
and each row's gold, model probabilities and rules' class: ``refusal_combine.py`` reads
them, picks the default classifier and writes the card. gptfuzz's ``evaluate`` split
trains nothing and is scored only with ``--final`` (with ``--save``: by the saved model).
A sixth of each training source's rows is held out of the weights' fit to fit the
temperature. ``--save`` trains on every source
that is not ``--held`` (``--held`` with no name: all of them) and writes the model file.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from refusal_probe import (  # noqa: E402
    LABELS,
    THREE_WAY,
    Example,
    _held_back,
    allowed,
    groups,
    score,
    show,
)
from refusal_sources import Row, load_public  # noqa: E402

from caic.evals.refusal import normalise_label  # noqa: E402
from caic.evals.refusal_model import N_RULE, rule_features, token_ids  # noqa: E402
from caic.io import write_text_atomic  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OWN = [ROOT / "benchmarks" / "data" / "refusal_completions.jsonl",
       *sorted((ROOT / "benchmarks" / "data" / "refusal_more").glob("*.jsonl"))]  # fmt: skip
NEW = "caic-written / not rules-dev"
"""The project's completions written after the rules."""
SOURCES = ("caic-written", "purseclab", "gptfuzz", "harmbench-val")
TARGETS = r".*encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)"  # noqa: E501


def load_own() -> list[Row]:
    rows = []
    for path in OWN:
        sub = "rules-dev" if path.name == "refusal_completions.jsonl" else path.stem
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                rows.append(Row("caic-written", sub, r["prompt"], r["completion"],
                                normalise_label(r["label"])))  # fmt: skip
    return rows


def load_all(data: Path) -> list[Example]:
    rows = load_own() + load_public(data)
    return [Example(r, allowed(r)) for r in rows]


def build(layers: int, rank: int) -> tuple[Any, Any, Any]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel

    from caic.compiler.lint.encoder import _tokenizer, model_dir

    folder = model_dir()
    tok = _tokenizer(str(folder / "tokenizer.json"))
    base = AutoModel.from_pretrained(str(folder), local_files_only=True)
    base.encoder.layer = base.encoder.layer[:layers]
    base.config.num_hidden_layers = layers
    cfg = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.1, target_modules=TARGETS)
    model = get_peft_model(base, cfg)
    head = torch.nn.Linear(384 + N_RULE, len(LABELS))
    return tok, model, head


def pooled(tok: Any, model: Any, batch: Sequence[Example]) -> Any:
    import torch

    seqs = [token_ids(tok, e.row.prompt, e.row.completion) for e in batch]
    width = max(len(s) for s in seqs)
    ids = torch.zeros((len(seqs), width), dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    hidden = model(input_ids=ids, attention_mask=mask,
                   token_type_ids=torch.zeros_like(ids)).last_hidden_state  # fmt: skip
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1)


def logits(trained: Any, batch: Sequence[Example], rules: np.ndarray) -> Any:
    import torch

    tok, model, head = trained
    return head(torch.cat([pooled(tok, model, batch), torch.from_numpy(rules)], dim=-1))


def set_nll(z: Any, batch: Sequence[Example]) -> Any:
    import torch

    mask = torch.zeros_like(z, dtype=torch.bool)
    for i, e in enumerate(batch):
        mask[i, list(e.allowed)] = True
    hit = torch.logsumexp(z.masked_fill(~mask, -1e9), dim=1)
    return (torch.logsumexp(z, dim=1) - hit).mean()


def _quota(source: str, args: argparse.Namespace) -> int:
    return args.per_source // (2 if source == "harmbench-val" else 1)


def train(examples: Sequence[Example], rules: np.ndarray, args: argparse.Namespace) -> Any:
    """Fit adapters and head on five sixths of each source, the temperature on the rest."""
    import torch

    torch.manual_seed(0)
    rng = random.Random(0)
    trained = build(args.layers, args.rank)
    _, model, head = trained
    by_source: dict[str, list[int]] = {}
    calib: list[int] = []
    for i, e in enumerate(examples):
        if e.allowed:
            by_source.setdefault(e.row.source, []).append(i)
    for s, ix in by_source.items():
        rng.shuffle(ix)
        cut = len(ix) // 6
        calib += ix[:cut]
        by_source[s] = ix[cut:]
    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    per_epoch = sum(min(len(ix), _quota(s, args)) for s, ix in by_source.items())
    steps = args.epochs * -(-per_epoch // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    model.train()
    t0 = time.perf_counter()
    for ep in range(args.epochs):
        pick = [
            i for s, ix in by_source.items() for i in rng.sample(ix, min(len(ix), _quota(s, args)))
        ]
        rng.shuffle(pick)
        total = 0.0
        for k in range(0, len(pick), args.batch):
            idx = pick[k : k + args.batch]
            batch = [examples[i] for i in idx]
            loss = set_nll(logits(trained, batch, rules[idx]), batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        print(f"  epoch {ep + 1}: loss {total / len(pick):.3f} "
              f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)  # fmt: skip
    model.eval()
    z = predict_logits(trained, [examples[i] for i in calib], rules[calib])
    temperature = fit_temperature(z, [examples[i] for i in calib])
    print(f"  temperature {temperature:.2f} (fitted on {len(calib)} rows)", file=sys.stderr)
    return trained, temperature


def predict_logits(trained: Any, examples: Sequence[Example], rules: np.ndarray) -> np.ndarray:
    import torch

    out = []
    with torch.no_grad():
        for k in range(0, len(examples), 64):
            out.append(logits(trained, examples[k : k + 64], rules[k : k + 64]).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(LABELS)), np.float32)


def fit_temperature(z: np.ndarray, examples: Sequence[Example]) -> float:
    """The temperature minimising the set-valued negative log-likelihood (a grid)."""
    mask = np.zeros_like(z, dtype=bool)
    for i, e in enumerate(examples):
        mask[i, list(e.allowed)] = True

    def nll(t: float) -> float:
        s = z / t
        s = s - s.max(axis=1, keepdims=True)
        log_all = np.log(np.exp(s).sum(axis=1))
        log_hit = np.log((np.exp(s) * mask).sum(axis=1) + 1e-30)
        return float((log_all - log_hit).mean())

    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 121))
    return float(min(grid, key=nll))


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def confusion(rows: Sequence[Row], probs: np.ndarray) -> dict[str, Any]:
    """Gold x predicted counts: three-way where the gold has three classes, else the gold
    read as full_refusal / not (what gptfuzz's and harmbench's gold say)."""
    preds = [LABELS[int(i)] for i in probs.argmax(axis=1)]
    three = rows[0].source in THREE_WAY
    gold_classes = list(LABELS) if three else ["full_refusal", "not_full_refusal"]
    m = np.zeros((len(gold_classes), len(LABELS)), dtype=int)
    for r, q in zip(rows, preds, strict=True):
        if r.gold is None or r.ambiguous:
            continue
        g = (
            r.gold
            if three
            else ("full_refusal" if r.gold == "full_refusal" else "not_full_refusal")
        )
        m[gold_classes.index(g), LABELS.index(q)] += 1
    return {"gold": gold_classes, "predicted": list(LABELS), "counts": m.tolist()}


def save(trained: Any, temperature: float, layers: int, rank: int, out: Path) -> None:
    """The LoRA factors (float16) under ``encoder.merge_lora``'s keys, the head, the
    number of blocks and the temperature; written to a temporary file, then renamed."""
    import os

    _, model, head = trained
    arrays: dict[str, np.ndarray] = {"scale": np.array(2.0, dtype=np.float32)}  # alpha / r
    for name, p in model.named_parameters():
        if "lora_" not in name:
            continue
        key = name.split("encoder.", 1)[1].split(".lora_")[0]
        arrays[f"{key}.{'A' if '.lora_A.' in name else 'B'}"] = (
            p.detach().numpy().astype(np.float16)
        )
    arrays["head.weight"] = head.weight.detach().numpy().astype(np.float32)
    arrays["head.bias"] = head.bias.detach().numpy().astype(np.float32)
    arrays["layers"] = np.array(layers)
    arrays["temperature"] = np.array(temperature, dtype=np.float32)
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, rank {rank})", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--held", nargs="*", default=["purseclab", "gptfuzz", "caic-written"],
                    help=f"sources ({', '.join(SOURCES)}) or one file of the project's own, "
                    "as caic-written:STEM (e.g. caic-written:personas)")  # fmt: skip
    ap.add_argument("--save", type=Path, help="train without the --held sources; write here")
    ap.add_argument("--json", type=Path, help="write the held-out scores and confusions here")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--per-source", type=int, default=1000)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--final", action="store_true", help="also score gptfuzz's evaluate split")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    examples = load_all(args.data)
    t0 = time.perf_counter()
    rules = np.stack([rule_features(e.row.completion, e.row.prompt) for e in examples])
    print(f"{len(examples)} rows, rule features in {time.perf_counter() - t0:.0f} s",
          file=sys.stderr)  # fmt: skip
    report: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}, "held": {}}
    if args.save:
        tr = [i for i, e in enumerate(examples)
              if e.row.source not in args.held and not _held_back(e)]  # fmt: skip
        trained, temperature = train([examples[i] for i in tr], rules[tr], args)
        save(trained, temperature, args.layers, args.rank, args.save)
        if args.final:  # the split no run trained, tuned or chose anything on
            test = [e.row for e in examples if _held_back(e)]
            probs = numpy_probs(trained, temperature, args, test)
            for name, idx in groups(test, True).items():
                show(score(name, [test[i] for i in idx], probs[idx]))
        return 0
    for held in args.held:
        t1 = time.perf_counter()
        tr = [i for i, e in enumerate(examples) if not _in(e, held) and not _held_back(e)]
        trained, temperature = train([examples[i] for i in tr], rules[tr], args)
        te = [i for i, e in enumerate(examples) if _in(e, held)]
        if not args.final:
            te = [i for i in te if not _held_back(examples[i])]
        t2 = time.perf_counter()
        probs = numpy_probs(trained, temperature, args, [examples[i].row for i in te])
        rate = len(te) / (time.perf_counter() - t2)
        print(f"== without {held} ({t2 - t1:.0f} s training, {rate:.0f} completions/s)")
        test = [examples[i].row for i in te]
        found: dict[str, Any] = {}
        subs: dict[str, list[int]] = dict(groups(test, args.final))
        for i, r in enumerate(test):
            if r.source == "caic-written" and ":" not in held:
                subs.setdefault(f"caic-written / {r.sub}", []).append(i)
                if r.sub != "rules-dev":
                    subs.setdefault(NEW, []).append(i)
        rule_probs = rules[te][:, : len(LABELS)]  # rule_features opens with the class, one-hot
        for name, idx in subs.items():
            rows = [test[i] for i in idx]
            s = score(name, rows, probs[idx])
            show(s)
            found[name] = {
                "score": _plain(s),
                "confusion": confusion(rows, probs[idx]),
                "rules_confusion": confusion(rows, rule_probs[idx]),
            }
        # Per row, for comparing ways of combining the two (benchmarks/refusal_combine.py):
        # the gold, the model's probabilities, the rules' class. Labels only, no text.
        found["rows"] = [
            {"gold": r.gold, "sub": r.sub, "ambiguous": r.ambiguous, "source": r.source,
             "model": [round(float(x), 4) for x in probs[i]],
             "rules": LABELS[int(rule_probs[i].argmax())]}
            for i, r in enumerate(test)
        ]  # fmt: skip
        report["held"][held] = found
        sys.stdout.flush()
        if args.json:  # after every fold: a killed run keeps the folds it finished
            write_text_atomic(args.json, json.dumps(report, indent=1) + "\n")
    return 0


def numpy_probs(
    trained: Any, temperature: float, args: argparse.Namespace, rows: Sequence[Row]
) -> np.ndarray:
    """Scores with the shipped inference path: the model saved, then read by
    ``caic.evals.refusal_model`` (numpy) as ``CAIC_REFUSAL_MODEL``."""
    import os
    import tempfile

    from caic.evals import refusal_model

    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "fold.npz"
        save(trained, temperature, args.layers, args.rank, file)
        old = os.environ.get("CAIC_REFUSAL_MODEL")
        os.environ["CAIC_REFUSAL_MODEL"] = str(file)
        try:
            return refusal_model.probabilities(
                [r.completion for r in rows], [r.prompt for r in rows]
            )
        finally:
            if old is None:
                del os.environ["CAIC_REFUSAL_MODEL"]
            else:
                os.environ["CAIC_REFUSAL_MODEL"] = old


def _in(e: Example, held: str) -> bool:
    """Whether a row belongs to a held-out ``SOURCE`` or ``SOURCE:SUB``."""
    source, _, sub = held.partition(":")
    return e.row.source == source and (not sub or e.row.sub == sub)


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    return x


if __name__ == "__main__":
    sys.exit(main())
