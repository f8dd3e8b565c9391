"""A generation job for the SIGKILL test: `python -m tests.generation.resume_driver URL SHARDS OUT N`.

Completes N requests through the OpenAI-compatible backend with resumable chunks of 4 and writes the
completions (request order) to OUT as JSON lines.
"""

from __future__ import annotations

import json
import sys

from ocr2_kedro.generation import ChatRequest, SamplingConfig, create_backend
from ocr2_kedro.generation.resumable import generate_resumable


def prompt(i: int) -> str:
    return f"Question {i:03d}: print the number {i}."


def main(url: str, shard_dir: str, out: str, n: int) -> None:
    requests = [
        ChatRequest(f"req-{i:03d}", ({"role": "user", "content": prompt(i)},), seed=i)
        for i in range(n)
    ]
    config = {
        "backend": "openai",
        "model": "tiny",
        "openai": {"endpoints": [url], "max_concurrency": 2, "backoff_s": 0.05},
    }
    completions = generate_resumable(
        requests,
        SamplingConfig(max_tokens=6),
        lambda: create_backend(config),
        shard_dir=shard_dir,
        chunk_size=4,
    )
    with open(out, "w") as handle:
        for completion in completions:
            handle.write(json.dumps(completion.__dict__) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
