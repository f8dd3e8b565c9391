"""Generation throughput: the same prompts and model through the vLLM and transformers backends in one
run, output tokens per second for each and the ratio (vLLM / transformers).

Prompts are solution prompts (`ocr2_kedro.generation.prompts.solution_prompt`) for short
competitive-programming questions, alternating Python and C++, sampled as the pipeline samples them
(temperature 0.6, top_p 0.95, one seed per request). Engine start-up / model load is timed apart
from generation. Defaults are the embedded configuration of conf/base (SmolLM2-135M-Instruct, float32
on CPU).

    .venv/bin/python benchmarks/generation.py --prompts 16 --max-tokens 256
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

from ocr2_kedro.generation import ChatRequest, SamplingConfig, create_backend
from ocr2_kedro.generation.prompts import solution_prompt

QUESTIONS = [
    "Given an integer n, print the sum 1 + 2 + ... + n.",
    "Read a string and print it reversed.",
    "Given n integers, print the maximum and the minimum.",
    "Read two integers a and b and print their greatest common divisor.",
    "Given a list of n integers, print how many of them are even.",
    "Read a word and print YES if it is a palindrome, otherwise NO.",
    "Given n, print the n-th Fibonacci number modulo 1000000007.",
    "Read n integers and print them sorted in non-decreasing order.",
]


def build_requests(count: int) -> list[ChatRequest]:
    requests = []
    for i in range(count):
        language = "python" if i % 2 == 0 else "cpp"
        text = solution_prompt(QUESTIONS[i % len(QUESTIONS)], language, "stdin")
        requests.append(ChatRequest(f"bench-{i}", ({"role": "user", "content": text},), seed=i))
    return requests


def measure(backend_name: str, model: str, requests, sampling, options: dict) -> dict:
    started = time.perf_counter()
    backend = create_backend({"backend": backend_name, "model": model, backend_name: options})
    load_s = time.perf_counter() - started
    with backend:
        started = time.perf_counter()
        completions = backend.generate(requests, sampling)
        generate_s = time.perf_counter() - started
    tokens = sum(c.num_output_tokens for c in completions)
    return {
        "backend": backend_name,
        "load_s": round(load_s, 1),
        "generate_s": round(generate_s, 1),
        "output_tokens": tokens,
        "tokens_per_s": round(tokens / generate_s, 1),
        "finished_share": round(
            sum(c.finish_reason == "stop" for c in completions) / len(completions), 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--batch-size", type=int, default=16, help="transformers batch size")
    parser.add_argument("--backends", default="vllm,transformers")
    parser.add_argument("--json", help="write the results here as JSON")
    args = parser.parse_args()

    requests = build_requests(args.prompts)
    sampling = SamplingConfig(temperature=0.6, top_p=0.95, max_tokens=args.max_tokens, seed=0)
    options = {
        "vllm": {
            "dtype": args.dtype,
            "enforce_eager": True,
            "max_model_len": 2048,
            "cpu_kvcache_space_gib": 1,
        },
        "transformers": {"dtype": args.dtype, "batch_size": args.batch_size},
    }
    results = [
        measure(name, args.model, requests, sampling, options[name])
        for name in args.backends.split(",")
    ]
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores; model {args.model} ({args.dtype})"
    )
    print(f"{args.prompts} prompts x max {args.max_tokens} tokens, temperature 0.6, top_p 0.95\n")
    print("| backend | load s | generate s | output tokens | tokens/s | finished |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['backend']} | {r['load_s']} | {r['generate_s']} | {r['output_tokens']} "
            f"| {r['tokens_per_s']} | {r['finished_share']} |"
        )
    by_name = {r["backend"]: r for r in results}
    if {"vllm", "transformers"} <= set(by_name):
        ratio = by_name["vllm"]["tokens_per_s"] / max(by_name["transformers"]["tokens_per_s"], 1e-9)
        print(f"\nvLLM / transformers output tokens/s: {ratio:.2f}x")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":  # vLLM spawns its engine: the guard is required
    main()
