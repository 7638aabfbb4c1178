"""Generation throughput of caic's backends on this machine, against the memory-bandwidth bound.

    python benchmarks/generation_bench.py            # about 5 minutes on 2 CPU cores
    python benchmarks/generation_bench.py --quick    # about 2 minutes

Decoding a small model on a CPU is bound by memory bandwidth: every step reads all
the weights once, and a batch shares that read. So the bound on steps per second is
bandwidth / weight bytes, and a batch of B multiplies tokens per step by B. The table
gives each rate as a fraction of that bound (KV-cache and activation traffic are not
counted, so the fraction is an upper estimate of how much of the bound is used).

For the openai backend (when llama-cpp-python is installed) it starts two real
``llama_cpp.server`` processes with one thread each (``--n_threads 1
--n_threads_batch 1``) on 127.0.0.1, each in its own session (see ``llama_server``),
warms both, and measures the client's overhead over a bare HTTP loop sending the same
requests, and the scale-out from one server to two behind the backend's per-request
round-robin. For each scale-out run it reports the CPU time the server processes got
(from ``/proc``), how the requests split, and the share of the run during which both
servers had a request in flight. ``--pin`` pins the servers to cores 0 and 1 with
``taskset``. Run it on an idle machine: the load average is printed first and last.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TOPICS = ["a lighthouse keeper", "a lost robot", "the first day of spring", "a chess match",
          "a mountain village", "an old violin", "a city at night", "a river journey",
          "a library of secrets", "a desert caravan", "a snowy forest", "a busy market",
          "a ship in a storm", "a garden on Mars", "a clockmaker", "a summer festival"]  # fmt: skip
PROMPTS = [
    [{"role": "user", "content": f"Write a long, detailed story about {t}."}] for t in TOPICS
]
Row = tuple[str, str, str]  # measure, value, target/note


def memory_bandwidth(size_mb: int = 256, repeats: int = 5) -> float:
    """Best large-copy rate in bytes/s (read + write counted): numpy on one core, torch on all."""
    import numpy as np
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    n = size_mb * (1 << 20) // 4
    best = 0.0
    a, b = np.ones(n, np.float32), np.empty(n, np.float32)
    ta, tb = torch.ones(n), torch.empty(n)
    for copy in (lambda: np.copyto(b, a), lambda: tb.copy_(ta)):
        copy()
        for _ in range(repeats):
            t0 = time.perf_counter()
            copy()
            best = max(best, 2 * n * 4 / (time.perf_counter() - t0))
    torch.set_num_threads(threads)
    return best


def bench_transformers(args: argparse.Namespace, bandwidth: float) -> list[Row]:
    import torch

    from caic.backends.base import SamplingParams
    from caic.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend(batch_size=max(args.batches))
    model, eos = backend.model, backend.tokenizer.eos_token_id
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    counts = {"tokens": 0, "steps": 0}
    real_generate = model.generate

    def counting_generate(*a: Any, **kw: Any) -> Any:
        out = real_generate(*a, **kw)
        new = out[:, kw["input_ids"].shape[1] :]
        counts["steps"] += new.shape[1]
        for row in new.tolist():  # tokens up to and including the first end token
            counts["tokens"] += row.index(eos) + 1 if eos in row else len(row)
        return out

    model.generate = counting_generate  # type: ignore[method-assign]
    params = SamplingParams(max_new_tokens=args.max_new_tokens)
    backend.generate(PROMPTS[:1], SamplingParams(max_new_tokens=4))  # warm-up
    rows: list[Row] = [
        ("model", f"{backend.model_id}, fp32, {torch.get_num_threads()} threads", ""),
        ("weight bytes read per step", f"{weight_bytes / 1e6:.0f} MB", ""),
        ("bandwidth bound, batch 1", f"{bandwidth / weight_bytes:.1f} steps/s", ""),
    ]
    base_rate = 0.0
    for bs in args.batches:
        n = args.single_prompts if bs == 1 else bs
        backend.batch_size = bs
        counts.update(tokens=0, steps=0)
        t0, c0 = time.perf_counter(), time.process_time()
        backend.generate(PROMPTS[:n], params)
        dt = time.perf_counter() - t0
        cpu_share = (time.process_time() - c0) / dt / torch.get_num_threads()
        rate, steps = counts["tokens"] / dt, counts["steps"] / dt
        base_rate = base_rate or rate
        frac = steps * weight_bytes / bandwidth
        note = f"{rate / base_rate:.1f}x batch 1"
        if bs >= 16:
            note += f" (target >= 6x: {'ok' if rate / base_rate >= 6 else 'MISSED'})"
        rows.append((f"transformers batch {bs} ({n} prompts)", f"{rate:.1f} tok/s", note))
        got = f"process got {cpu_share:.0%} of {torch.get_num_threads()} thread(s)' CPU time"
        rows.append(("  steps/s, share of bandwidth bound", f"{steps:.1f}, {frac:.0%}", got))
    backend.close()
    return rows


@contextmanager
def llama_server(
    gguf: Path, log: Path, core: int | None = None, threads: int = 1
) -> Iterator[tuple[str, int]]:
    """A llama.cpp server (one thread unless told) on a free port; yields its URL and PID.

    Each server gets a session of its own (``start_new_session``): with the kernel's
    autogroup scheduling (``/proc/sys/kernel/sched_autogroup_enabled``) CPU time is
    shared fairly between sessions, so servers left in the benchmark's session would
    split one session's share between them on a busy machine, and two of them could
    not go faster than one. ``core`` pins the server to one CPU with ``taskset``.
    Its own PID (not a wrapper's) is stopped on exit.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host",
           "127.0.0.1", "--port", str(port), "--model_alias", "smollm2",
           "--n_threads", str(threads), "--n_threads_batch", str(threads)]  # fmt: skip
    if core is not None:
        cmd = ["taskset", "-c", str(core), *cmd]  # taskset execs the server: same PID
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}/v1"
        try:
            for _ in range(400):
                if proc.poll() is not None:
                    raise RuntimeError(f"llama.cpp server exited; see {log}")
                try:
                    urllib.request.urlopen(url + "/models", timeout=2).close()
                    break
                except OSError:
                    time.sleep(0.3)
            yield url, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def gguf_weight_bytes(gguf: Path) -> int:
    """Bytes of all tensors in a GGUF file (tied embeddings are read whole every step)."""
    try:
        from gguf import GGUFReader
    except ImportError:
        return gguf.stat().st_size
    return sum(int(t.n_bytes) for t in GGUFReader(str(gguf)).tensors)


def busy(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The union of time intervals, as sorted disjoint intervals."""
    out: list[tuple[float, float]] = []
    for a, z in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], z))
        else:
            out.append((a, z))
    return out


def overlap(x: list[tuple[float, float]], y: list[tuple[float, float]]) -> float:
    """Seconds during which both unions of intervals are busy."""
    i = j = 0
    total = 0.0
    while i < len(x) and j < len(y):
        total += max(0.0, min(x[i][1], y[j][1]) - max(x[i][0], y[j][0]))
        if x[i][1] < y[j][1]:
            i += 1
        else:
            j += 1
    return total


def llama_total_ms(log: Path) -> float:
    """Sum of llama.cpp's own per-request ``total time`` lines in a server log."""
    text = log.read_text(errors="replace")
    return sum(float(m) for m in re.findall(r"total time =\s*([\d.]+) ms", text))


def bare_loop(url: str, payloads: list[dict[str, Any]]) -> float:
    """The same requests from a minimal keep-alive stdlib client: the server's own time."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=300)
    t0 = time.perf_counter()
    for p in payloads:
        conn.request("POST", "/v1/chat/completions", json.dumps(p),
                     {"Content-Type": "application/json"})  # fmt: skip
        json.loads(conn.getresponse().read())
    dt = time.perf_counter() - t0
    conn.close()
    return dt


def bench_openai(args: argparse.Namespace, bandwidth: float) -> list[Row]:
    from caic.backends.base import SamplingParams
    from caic.backends.openai_backend import OpenAIBackend
    from caic.backends.transformers_backend import default_gguf_path

    gguf = default_gguf_path()
    weight_bytes = gguf_weight_bytes(gguf)
    params = SamplingParams(max_new_tokens=args.server_tokens)
    convs = PROMPTS[: args.server_requests]
    payloads = [{"model": "smollm2", "messages": c, "max_tokens": params.max_new_tokens,
                 "temperature": 0.0, "top_p": 1.0} for c in convs]  # fmt: skip
    rows: list[Row] = [
        ("llama.cpp weight bytes per step", f"{weight_bytes / 1e6:.0f} MB",
         f"{gguf.name}; bound {bandwidth / weight_bytes:.0f} steps/s"),
    ]  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="caic-bench-"))
    cores = [0, 1 % (os.cpu_count() or 1)] if args.pin else [None, None]
    with (
        llama_server(gguf, tmp / "a.log", cores[0]) as (url_a, pid_a),
        llama_server(gguf, tmp / "b.log", cores[1]) as (url_b, pid_b),
    ):
        warm = OpenAIBackend([url_a, url_b], "smollm2", concurrency=2)
        warm.generate(PROMPTS[:4], SamplingParams(max_new_tokens=4))  # both servers
        warm.close()
        one = OpenAIBackend([url_a], "smollm2", concurrency=1)
        bare_loop(url_a, payloads[:1])
        client = bare = client_cpu = 0.0
        ms0 = llama_total_ms(tmp / "a.log")
        for _ in range(args.overhead_rounds):  # interleaved, so drift hits both alike
            t0, c0 = time.perf_counter(), time.process_time()
            one.generate(convs, params)
            client += time.perf_counter() - t0
            client_cpu += time.process_time() - c0
            bare += bare_loop(url_a, payloads)
        # Server A's log covers both clients' rounds.
        compute = (llama_total_ms(tmp / "a.log") - ms0) / 1000 / (2 * args.overhead_rounds)
        r = args.overhead_rounds
        overhead = client / bare - 1
        ok = "ok" if overhead < 0.05 else "MISSED"
        rows += [
            (f"openai: {len(convs)} sequential requests", f"{client / r:.2f} s",
             f"caic client, mean of {r} rounds"),
            ("  same requests, bare HTTP loop", f"{bare / r:.2f} s", "server's own time"),
            ("  of which llama.cpp compute", f"{compute:.2f} s", "from the server log"),
            ("  client overhead (wall)", f"{overhead:+.1%}", f"target < 5%: {ok}"),
            ("  client CPU time", f"{client_cpu / r / len(convs) * 1000:.1f} ms/request",
             f"{client_cpu / client:.1%} of the client's wall time"),
        ]  # fmt: skip
        one.close()

        work = PROMPTS[: args.scale_requests]
        pids = {url_a: pid_a, url_b: pid_b}
        best: dict[int, tuple[float, str]] = {}
        for _ in range(args.repeats):  # 1, 2, 1, 2, ...: drift hits both alike
            for urls in ([url_a], [url_a, url_b]):
                b = OpenAIBackend(urls, "smollm2", trace=True)
                cpu0 = {u: cpu_seconds(p) for u, p in pids.items()}
                t0 = time.perf_counter()
                b.generate(work, params)
                dt = time.perf_counter() - t0
                used = sum(cpu_seconds(p) - cpu0[u] for u, p in pids.items()) / dt
                rate = b.stats.completion_tokens / dt
                spans = b.stats.spans
                b.close()
                per_core = rate / used if used > 0 else float("nan")
                note = f"{dt:.2f} s, servers used {used:.2f} cores ({per_core:.1f} tok/s per core)"
                if len(urls) == 2:
                    ba, bb = (busy([(x, z) for u, x, z in spans if u == url]) for url in urls)
                    both = overlap(ba, bb) / dt
                    split = "/".join(str(sum(1 for s in spans if s[0] == u)) for u in urls)
                    note += f", requests {split}, both busy {both:.0%} of the time"
                frac = rate * weight_bytes / bandwidth  # one decoding step per token
                note += f", {frac:.0%} of bound"
                if len(urls) not in best or rate > best[len(urls)][0]:
                    best[len(urls)] = (rate, note)
        for n, (rate, note) in sorted(best.items()):
            rows.append(
                (f"openai: {n} server(s), {len(work)} requests", f"{rate:.1f} tok/s",
                 f"best of {args.repeats}: {note}")
            )  # fmt: skip
        ratio = best[2][0] / best[1][0]
        ok = "ok" if ratio >= 1.6 else "MISSED"
        pinned = "pinned to cores 0 and 1" if args.pin else "not pinned"
        rows.append(
            ("  scale-out, 2 servers vs 1", f"{ratio:.2f}x", f"target >= 1.6x: {ok} ({pinned})")
        )
    return rows


def print_table(rows: list[Row]) -> None:
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    line = "-" * (w[0] + w[1] + w[2] + 6)
    print(line)
    for r in rows:
        print(f"{r[0]:<{w[0]}} | {r[1]:>{w[1]}} | {r[2]}")
    print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer prompts and tokens")
    ap.add_argument("--max-new-tokens", type=int, default=None)
    ap.add_argument("--batches", default="1,4,16", help="comma-separated batch sizes")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    ap.add_argument("--skip-transformers", action="store_true")
    ap.add_argument("--skip-openai", action="store_true")
    ap.add_argument("--pin", action="store_true", help="pin the two servers to cores 0 and 1")
    ap.add_argument("--repeats", type=int, default=2, help="scale-out runs per setup (best kept)")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args()
    args.batches = [int(b) for b in args.batches.split(",")]
    args.max_new_tokens = args.max_new_tokens or (32 if args.quick else 64)
    args.single_prompts = 2 if args.quick else 4
    args.server_tokens = 24 if args.quick else 48
    args.server_requests = 3 if args.quick else 6
    args.scale_requests = 6 if args.quick else 12
    args.overhead_rounds = 2 if args.quick else 3

    t0 = time.perf_counter()
    load = os.getloadavg()
    bw = memory_bandwidth()  # on all cores, whatever --threads says

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rows: list[Row] = [
        (
            "load average at start (1/5/15 min)",
            "/".join(f"{x:.2f}" for x in load),
            f"{os.cpu_count()} cores; above that = contended",
        ),
        ("memory copy bandwidth", f"{bw / 1e9:.1f} GB/s", "numpy/torch, best"),
    ]
    if not args.skip_transformers:
        rows += bench_transformers(args, bw)
        gc.collect()
    if args.skip_openai:
        pass
    elif importlib.util.find_spec("llama_cpp") is None:
        rows.append(("openai backend", "skipped", "llama-cpp-python not installed"))
    else:
        rows += bench_openai(args, bw)
    rows.append(
        ("load average at end (1/5/15 min)", "/".join(f"{x:.2f}" for x in os.getloadavg()), "")
    )
    rows.append(("benchmark wall time", f"{time.perf_counter() - t0:.0f} s", ""))
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
