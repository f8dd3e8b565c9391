"""Resumable chunk size on one vLLM engine: the same requests through `generate_resumable` cut into
chunks of `--baseline-chunk` (64, what conf/base used before) and into one chunk (what conf/base
uses for the embedded teacher and critic), wall time of each and the ratio.

vLLM batches continuously within one `generate` call, but a chunk is one call: the last sequences
of a chunk decode in a small batch while the next chunk waits, and on CPU a decoding step costs
nearly the same at a batch of 18 as at 180. Both variants share one engine (started once, timed
apart) and write their shards to fresh folders; rounds alternate which goes first.

    PYTHONPATH=. .venv/bin/python benchmarks/resume_chunks.py --prompts 192 --max-tokens 96
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import tempfile
import time

from benchmarks.generation import build_requests
from ocr2_kedro.generation import SamplingConfig, create_backend
from ocr2_kedro.generation.resumable import generate_resumable


def timed_run(engine, requests, sampling, chunk_size: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="chunks-") as shard_dir:
        started = time.perf_counter()
        completions = generate_resumable(
            requests,
            sampling,
            lambda: contextlib.nullcontext(engine),
            shard_dir=shard_dir,
            chunk_size=chunk_size,
            description=f"chunks of {chunk_size}",
        )
        seconds = time.perf_counter() - started
    assert len(completions) == len(requests)
    return {
        "chunk_size": chunk_size,
        "seconds": seconds,
        "output_tokens": sum(c.num_output_tokens for c in completions),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--prompts", type=int, default=192)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--baseline-chunk", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()

    requests = build_requests(args.prompts)
    # Sampled as the pipeline samples (answers of many lengths: the tail of a chunk is what one
    # chunk saves; greedy answers of the embedded model all run to max_tokens). On CPU samples
    # follow the engine seed, so the two variants' texts differ: compare tokens/s too.
    sampling = SamplingConfig(temperature=0.6, top_p=0.95, max_tokens=args.max_tokens, seed=0)
    config = {
        "backend": "vllm",
        "model": args.model,
        "vllm": {
            "dtype": "float32",
            "enforce_eager": True,
            "max_model_len": 2048,
            "cpu_kvcache_space_gib": 1,
        },
    }
    started = time.perf_counter()
    with create_backend(config) as engine:
        start_s = time.perf_counter() - started
        variants = [args.baseline_chunk, len(requests)]
        results: dict[int, list[dict]] = {size: [] for size in variants}
        for round_index in range(args.rounds):
            order = variants if round_index % 2 == 0 else variants[::-1]
            for size in order:
                results[size].append(timed_run(engine, requests, sampling, size))

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores; model {args.model} (float32)")
    print(
        f"{args.prompts} prompts x max {args.max_tokens} tokens, temperature 0.6, top_p 0.95; engine start {start_s:.1f} s "
        f"(once, not in the times below); {args.rounds} round(s)\n"
    )
    print("| chunks | seconds (mean) | output tokens (mean) | tokens/s |")
    print("|---|---|---|---|")
    means = {}
    for size in variants:
        runs = results[size]
        means[size] = sum(r["seconds"] for r in runs) / len(runs)
        tokens = sum(r["output_tokens"] for r in runs) / len(runs)
        count = -(-len(requests) // size)
        print(
            f"| {count} of {size} | {means[size]:.1f} | {tokens:.0f} | {tokens / means[size]:.1f} |"
        )
    ratio = means[args.baseline_chunk] / means[len(requests)]
    print(f"\none chunk of {len(requests)} vs chunks of {args.baseline_chunk}: {ratio:.2f}x faster")


if __name__ == "__main__":  # vLLM may spawn its engine: the guard is required
    main()
