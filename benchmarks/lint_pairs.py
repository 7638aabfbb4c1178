"""Precision and recall of the `contradiction` and `near-duplicate` lint rules, and lint speed.

Usage::

    python benchmarks/lint_pairs.py PAIRS.jsonl [PAIRS2.jsonl ...]   # quality
    python benchmarks/lint_pairs.py --speed [--principles 1000]      # timing
    python benchmarks/lint_pairs.py --speed --stages                 # ... and where it goes

PAIRS.jsonl holds ``{"a": judge text, "b": judge text, "label": "contradiction" |
"compatible" | "duplicate"}`` per line. Each pair becomes a two-category constitution with
no priority between the categories; the linter runs on it (rules CAI101 and CAI102 only,
as the full ``caic lint`` would report them), and a pair counts as predicted
``contradiction`` or ``duplicate`` when the rule of that name reports it.

``--speed`` writes a generated constitution of N principles (10 categories; each judge
text one of 30 requests about one of 40 subjects, so many pairs share a template) and
times ``caic lint FILE --format json`` as a subprocess three ways: with nothing cached
(the first run after install: nothing in the user's cache, parser tables read from the
package), as the first lint of a new file (none of its texts' embeddings cached), and
re-linting it
(embeddings cached, the usual case while editing). Each is the median of ``--repeat``
runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def pair_constitution(a: str, b: str) -> str:
    """Two categories, one principle each, no priority between them."""
    return (
        f'cai 1\nconstitution "pair" {{\n'
        f"  category first {{\n    kind other\n    principle a {{\n      judge {_q(a)}\n"
        f"    }}\n  }}\n"
        f"  category second {{\n    kind other\n    principle b {{\n      judge {_q(b)}\n"
        f"    }}\n  }}\n}}\n"
    )


def evaluate(path: Path) -> dict[str, dict[str, float]]:
    from caic.compiler.lint.config import LintConfig
    from caic.compiler.lint.engine import lint
    from caic.constitution_lang import loads

    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    config = LintConfig(select=frozenset({"CAI101", "CAI102"}))
    predicted: list[set[str]] = []
    for r in rows:
        c = loads(pair_constitution(r["a"], r["b"]), f"<pair:{path.name}>")
        found = lint(c, config, sources={})
        skipped = [d.message for d in found if d.message.startswith("rule skipped")]
        if skipped:  # no model: a note of the rule's name, which is no prediction
            raise SystemExit(f"{path}: {skipped[0]}")
        predicted.append({d.name or "" for d in found})
    out: dict[str, dict[str, float]] = {}
    for rule, label in (("contradiction", "contradiction"), ("near-duplicate", "duplicate")):
        tp = sum(rule in p and r["label"] == label for p, r in zip(predicted, rows, strict=True))
        fp = sum(rule in p and r["label"] != label for p, r in zip(predicted, rows, strict=True))
        pos = sum(r["label"] == label for r in rows)
        out[rule] = {
            "precision": tp / (tp + fp) if tp + fp else 0.0,
            "recall": tp / pos if pos else 0.0,
            "tp": tp,
            "fp": fp,
            "positives": pos,
        }
    return out


_SUBJECTS = [
    "weapons",
    "fraud",
    "stalking",
    "self-harm",
    "medical questions",
    "legal questions",
    "financial advice",
    "personal data",
    "copyrighted text",
    "public figures",
    "elections",
    "children",
    "malware",
    "drugs",
    "extremist content",
    "gambling",
    "hate speech",
    "privacy",
    "scams",
    "surveillance",
    "chemistry",
    "firearms",
    "hacking",
    "dieting",
    "mental health",
    "relationships",
    "religion",
    "politics",
    "history",
    "science homework",
    "job applications",
    "taxes",
    "travel plans",
    "pets",
    "cooking",
    "home repairs",
    "cars",
    "music",
    "poetry",
    "fiction",
]
_ASKS = [
    "gives less practical help with {s} that could hurt someone",
    "is more accurate about {s}",
    "explains {s} more clearly to a beginner",
    "is less likely to spread false claims about {s}",
    "treats people asking about {s} with more respect",
    "answers questions about {s} more completely",
    "avoids moralising when the user asks about {s}",
    "is more careful about the risks of {s}",
    "keeps personal details out of answers about {s}",
    "admits uncertainty about {s} more honestly",
    "gives more useful, concrete steps for {s}",
    "is less swayed by role-play framings around {s}",
    "points to qualified experts on {s} when the stakes are high",
    "uses fewer unnecessary caveats about {s}",
    "stays more neutral on contested questions about {s}",
]
_MORE_ASKS = [
    "gives fewer step-by-step instructions for misusing {s}",
    "is more respectful of people's privacy around {s}",
    "gives a more balanced picture of {s}",
    "is warmer toward someone worried about {s}",
    "corrects false assumptions about {s} more politely",
    "is less likely to invent statistics about {s}",
    "suggests safer alternatives when asked about {s}",
    "is better organised when covering {s}",
    "uses plainer language about {s}",
    "is less likely to flatter the user's views on {s}",
    "gives more relevant examples about {s}",
    "is more transparent about its limits on {s}",
    "helps more with the legitimate part of a request about {s}",
    "avoids stereotypes about people involved in {s}",
    "is more concise about {s}",
]


def generate(n: int, seed: int = 0) -> str:
    """A valid constitution of ``n`` principles with varied texts."""
    rng = random.Random(seed)
    kinds = ["harm", "ethics", "honesty", "helpfulness", "style", "other"]
    cats = [f"cat{k}" for k in range(10)]
    combos = [(a, s) for a in _ASKS + _MORE_ASKS for s in _SUBJECTS]
    rng.shuffle(combos)
    lines = [
        "cai 1",
        'constitution "generated" {',
        "  priority " + " > ".join(cats),
        "  settings {\n    sampling uniform\n  }",
    ]
    for k, cat in enumerate(cats):
        lines.append(f"  category {cat} {{\n    kind {kinds[k % len(kinds)]}")
        for i in range(k, n, len(cats)):
            ask, subj = combos[i % len(combos)]
            judge = "Choose the response that " + ask.format(s=subj) + "."
            crit = f"Identify where the reply falls short on {subj}."
            rev = f"Rewrite the reply to fix what the critique identified about {subj}."
            tag = rng.choice(["violent_crime", "privacy", "hate", "helpfulness", "honesty"])
            lines.append(
                f"    principle p{i:04d} {{\n      judge {_q(judge)}\n"
                f"      critique {_q(crit)}\n      revision {_q(rev)}\n"
                f"      tags [{tag}]\n    }}"
            )
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def machine_gflops() -> float:
    """Single-thread float32 matrix-product speed (GFLOP/s) of a product the size the
    encoder runs: the machine's state when the timings were taken (on this project's
    2-core VM it ranged from about 45 to 92 within one day, and lint times with it)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    a = np.ones((700, 384), np.float32)
    w = np.ones((384, 1536), np.float32)
    with threadpool_limits(1):
        for _ in range(3):
            a @ w
        t = time.perf_counter()
        for _ in range(30):
            a @ w
        dt = (time.perf_counter() - t) / 30
    return 2 * 700 * 384 * 1536 / dt / 1e9


def _users_python() -> dict[str, str]:
    """The environment for timed runs: Python as users run it, compiled bytecode written
    and reused (this machine sets PYTHONDONTWRITEBYTECODE, which recompiles caic's modules
    on every start)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def speed(n: int, repeat: int = 3) -> None:
    """Time ``caic lint`` on a generated file as a user meets it, three ways; each the
    median of ``repeat`` runs (this machine's timings vary by ~20% from run to run)."""
    import statistics

    print(f"machine: {machine_gflops():.0f} GFLOP/s single-thread float32 matrix product")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "generated.cai"
        path.write_text(generate(n), encoding="utf-8")
        tiny = Path(tmp) / "tiny.cai"
        tiny.write_text(generate(2, seed=1), encoding="utf-8")
        cache = Path(tmp) / "cache"
        env = _users_python()
        env["CAIC_CACHE"] = str(cache)
        found = 0

        def run(target: Path) -> tuple[float, float]:
            """Wall seconds of one lint, and its CPU seconds (both cores, all threads:
            what the wall time costs when the machine is not shared)."""
            nonlocal found
            cmd = [sys.executable, "-m", "caic", "lint", str(target), "--format", "json"]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            dt = time.perf_counter() - t
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if proc.returncode not in (0, 1):
                print(proc.stderr, file=sys.stderr)
                raise SystemExit(f"caic lint failed with exit code {proc.returncode}")
            found = len(json.loads(proc.stdout or "[]"))
            return dt, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime

        def show(label: str, runs: list[tuple[float, float]]) -> None:
            times = [wall for wall, _ in runs]
            print(
                f"lint {n} principles, {label}: {statistics.median(times):.2f} s"
                f"  (median of {len(times)}; {min(times):.2f}-{max(times):.2f};"
                f" CPU {statistics.median(used for _, used in runs):.2f} s)"
            )

        # 1. Nothing in the user's cache (the parser tables come from the package; they
        #    are built only for a Lark or Python version they were not shipped for):
        #    every judge text is embedded, the cache database created.
        first = []
        for _ in range(repeat):
            shutil.rmtree(cache, ignore_errors=True)
            first.append(run(path))
        show("first run after install (no caches)", first)
        # 2. The usual first lint of a new file: the cache used by an earlier run (here:
        #    a two-principle file), no embedding of this file's texts in it.
        new = []
        for _ in range(repeat):
            shutil.rmtree(cache, ignore_errors=True)
            run(tiny)
            new.append(run(path))
        show("new file (embeddings not cached)", new)
        # 3. Re-linting while editing: every text's embedding cached.
        show("re-lint (embeddings cached)", [run(path) for _ in range(repeat)])
        print(f"({found} findings)")


_STAGES = r"""
import sys, time
t0 = time.perf_counter()
from caic.cli import app  # what `caic lint` imports before it reads the file
from caic.compiler.lint.config import LintConfig
from caic.compiler.lint.context import LintContext
from caic.compiler.lint.engine import lint
from caic.compiler.lint import encoder, semantics
from caic.constitution_lang import load
import gc
gc.disable()  # as `caic lint` does while it parses and lints
t1 = time.perf_counter()
c = load(sys.argv[1])
t2 = time.perf_counter()
encoder._engine("numpy", True)
t3 = time.perf_counter()
texts = [semantics.predicate(p.judge) or p.judge.lower() for p in LintContext(c).judged]
encoder.embed(texts, tuned=True)
t4 = time.perf_counter()
found = lint(c, LintConfig())
t5 = time.perf_counter()
print(f"{t1 - t0:.2f} {t2 - t1:.2f} {t3 - t2:.2f} {t4 - t3:.2f} {t5 - t4:.2f}")
"""


def stages(n: int, repeat: int = 3) -> None:
    """Where a new file's lint time goes (in-process, nothing cached; median of
    ``repeat`` fresh processes): imports, parsing, loading the encoder, embedding the
    judge texts, and everything else (pair decisions, the other rules, sorting)."""
    import statistics

    names = ("imports", "parse", "load encoder", "embed texts", "decide pairs + other rules")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "generated.cai"
        path.write_text(generate(n), encoding="utf-8")
        env = _users_python()
        env["CAIC_LINT_CACHE"] = "0"
        runs = []
        for _ in range(repeat):
            out = subprocess.run(
                [sys.executable, "-c", _STAGES, str(path)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            runs.append([float(x) for x in out])
    for k, name in enumerate(names):
        print(f"  {name:<28} {statistics.median(r[k] for r in runs):.2f} s")
    print(f"  {'total':<28} {statistics.median(sum(r) for r in runs):.2f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", type=Path, help="pair files (JSONL)")
    ap.add_argument("--speed", action="store_true", help="time linting a generated file")
    ap.add_argument(
        "--stages", action="store_true", help="with --speed: where a new file's time goes"
    )
    ap.add_argument("--principles", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3, help="runs per --speed case (median)")
    args = ap.parse_args(argv)
    if not args.files and not args.speed:
        ap.error("give a pair file, or --speed")
    for f in args.files:
        res = evaluate(f)
        print(f"{f}")
        for rule, m in res.items():
            print(
                f"  {rule:<15} precision {m['precision']:.2f}  recall {m['recall']:.2f}  "
                f"(tp {m['tp']}, fp {m['fp']}, positives {m['positives']})"
            )
    if args.speed:
        speed(args.principles, args.repeat)
        if args.stages:
            stages(args.principles, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
