"""Benchmark llmbook.smollm on this machine: load, prefill, greedy decoding, memory.

    LLMBOOK_CACHE=/tmp/llmbook-cache .venv/bin/python scripts/bench_smollm.py

Prints the load time, the time to prefill a 256-token prompt and greedy tokens per second over
64 new tokens (best of three runs, and the median), the peak resident memory, and the
memory-bandwidth bound: decoding one token reads every weight matrix once (the output head
included), so tokens/s cannot exceed the machine's memory bandwidth (measured here with a large
numpy copy, counting the bytes read and written) divided by those bytes. Other work on the
machine skews every number: OpenBLAS's two threads slow down many times when a core is busy.
Targets: >= 8 tokens/s, prefill < 5 s, peak RSS < 1.5 GB.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np
from threadpoolctl import threadpool_info

from llmbook import assets, smollm

TEXT = (
    "The Transformer is a neural network architecture based on attention. A decoder-only "
    "language model reads a sequence of tokens and predicts the next one; each layer mixes "
    "information between positions with self-attention and then transforms every position "
    "with a small multi-layer perceptron. "
)


def bandwidth(megabytes: int = 512, repeats: int = 5) -> float:
    """Bytes per second of a large numpy copy (each byte is read once and written once)."""
    src = np.ones(megabytes * 2**20 // 4, dtype=np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)  # touch both buffers first
    best = min(_timed(lambda: np.copyto(dst, src)) for _ in range(repeats))
    return 2 * src.nbytes / best


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def decode_run(model: smollm.Model, ids: list[int], new_tokens: int) -> tuple[float, float]:
    """Seconds to prefill ``ids``, then greedy tokens per second over ``new_tokens`` steps."""
    cache = model.new_cache()
    start = time.perf_counter()
    logits = model.head(model.hidden(ids, cache)[-1])  # what generate does: last position only
    prefill = time.perf_counter() - start
    token = int(np.argmax(logits))
    start = time.perf_counter()
    for _ in range(new_tokens):  # greedy, never stopping early
        token = int(np.argmax(model.head(model.hidden([token], cache)[-1])))
    return prefill, new_tokens / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompt-tokens", type=int, default=256)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="report the best run")
    args = parser.parse_args()

    load_average = os.getloadavg()  # other work on the machine skews every number below
    path = assets.path(smollm.ASSET)  # verified (sha256) before the clock starts
    start = time.perf_counter()
    model = smollm.Model.load(path)
    load = time.perf_counter() - start

    ids = model.encode(TEXT * 20)[: args.prompt_tokens]
    assert len(ids) == args.prompt_tokens
    model.logits(ids[:8])  # warm up BLAS threads and the tokenizer

    runs = [decode_run(model, ids, args.new_tokens) for _ in range(args.repeats)]
    prefill = min(r[0] for r in runs)
    tokens_per_second = max(r[1] for r in runs)
    median_prefill = float(np.median([r[0] for r in runs]))
    median_tps = float(np.median([r[1] for r in runs]))

    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    bytes_per_token = model.weights.nbytes
    machine_bandwidth = bandwidth()
    bound = machine_bandwidth / bytes_per_token

    blas = ", ".join(
        f"{i['internal_api']} {i.get('version')} {i.get('architecture')} x{i['num_threads']}"
        for i in threadpool_info()
    )
    rows = [
        ("BLAS", blas),
        ("load average before the run", " ".join(f"{x:.2f}" for x in load_average)),
        ("load (dequantise to float32)", f"{load:.2f} s"),
        (f"prefill, {args.prompt_tokens} tokens", f"{prefill:.2f} s (median {median_prefill:.2f})"),
        (
            f"greedy decoding, {args.new_tokens} tokens",
            f"{tokens_per_second:.1f} tokens/s (median {median_tps:.1f})",
        ),
        ("peak RSS", f"{peak_rss / 1e9:.2f} GB"),
        ("weights read per token", f"{bytes_per_token / 1e6:.0f} MB (float32)"),
        ("machine bandwidth (numpy copy)", f"{machine_bandwidth / 1e9:.1f} GB/s"),
        ("bandwidth bound", f"{bound:.1f} tokens/s ({1e3 / bound:.0f} ms/token)"),
        ("share of the bound reached", f"{tokens_per_second / bound:.0%}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    ok = tokens_per_second >= 8 and prefill < 5 and peak_rss < 1.5e9
    print("targets (>= 8 tokens/s, prefill < 5 s, peak RSS < 1.5 GB):", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
