"""Compile speed: parse, check and compile a generated 1,000-principle constitution, and
bind 100,000 prompts × 2 rounds, against a floor measured in the same run.

The floor serialises and writes the *same* job records with the same JSON encoder and
nothing else, so the ratio says how much of binding is overhead beyond unavoidable I/O.

    python benchmarks/compile_bench.py [--principles 1000] [--prompts 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))

from _gen import generated_constitution  # noqa: E402

from caic.compiler import bind  # noqa: E402
from caic.compiler.promptset import compile_constitution, write_promptset  # noqa: E402
from caic.constitution_lang import parse, resolve  # noqa: E402


def best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--principles", type=int, default=1000)
    ap.add_argument("--prompts", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()

    text = generated_constitution(a.principles)
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "gen.cai")
    with open(path, "w") as f:
        f.write(text)
    parse(text, path)  # build the cached parser once, as a long-lived process would
    doc, _ = parse(text, path)
    c = resolve(doc, path)
    t_parse = best(lambda: parse(text, path), a.repeat)
    t_check = best(lambda: resolve(doc, path), a.repeat)
    t_compile = best(lambda: compile_constitution(c), a.repeat)
    out = os.path.join(tmp, "ps")
    t_total = best(lambda: write_promptset(resolve(parse(text, path)[0], path), out), a.repeat)

    prompts = [
        {
            "id": f"p{i}",
            "prompt": f"Prompt number {i}: how do I do thing {i % 97}?",
            "category": "cat",
        }
        for i in range(a.prompts)
    ]
    jobs_path = os.path.join(tmp, "jobs.jsonl")

    def do_bind() -> None:
        with open(jobs_path, "wb") as f:
            f.write(bind.sl_cai_jobs_bytes(c, prompts, a.rounds, 7))

    records = bind.sl_cai_jobs(c, prompts, a.rounds, 7)
    enc = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode

    def floor() -> None:
        with open(jobs_path, "wb") as f:
            f.write("".join([enc(r) + "\n" for r in records]).encode())

    t_bind = best(do_bind, a.repeat)
    t_floor = best(floor, a.repeat)

    rows = [
        ("parse", f"{a.principles} principles", t_parse, a.principles / t_parse),
        ("check (resolve)", f"{a.principles} principles", t_check, a.principles / t_check),
        ("compile passes", f"{a.principles} principles", t_compile, a.principles / t_compile),
        (
            "parse+check+compile+write",
            f"{a.principles} principles",
            t_total,
            a.principles / t_total,
        ),
        ("bind SL-CAI jobs", f"{a.prompts} × {a.rounds}", t_bind, a.prompts / t_bind),
        ("floor: serialise+write", f"{a.prompts} records", t_floor, a.prompts / t_floor),
    ]
    print(f"{'step':28} {'size':22} {'seconds':>8} {'records/s':>12}")
    for name, size, t, rate in rows:
        print(f"{name:28} {size:22} {t:8.3f} {rate:12,.0f}")
    print(f"\nbinding rate / floor rate = {t_floor / t_bind:.2f} (target >= 0.50)")
    print(f"1,000-principle parse+check+compile+write = {t_total:.3f} s (target < 1 s)")


if __name__ == "__main__":
    main()
