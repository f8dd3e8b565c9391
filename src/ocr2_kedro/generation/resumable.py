"""Resumable generation: requests are completed chunk by chunk and every finished chunk is written to
a shard directory at once (atomically), so a run killed part-way (even with SIGKILL) and started again
completes only what is missing and returns every request exactly once.

Layout: `<shard_dir>/<run_key>/chunk-<hash of its request ids>.parquet`, one row per completion.
`run_key` fingerprints what makes a completion (model, sampling, prompts' system message...), so a
changed configuration never reuses stale completions. Error completions are returned but not stored,
so a rerun retries them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl
from tqdm.auto import tqdm

from ocr2_kedro.generation.base import ChatRequest, Completion, GenerationBackend, SamplingConfig
from ocr2_kedro.schemas import stable_id

logger = logging.getLogger(__name__)

SHARD_SCHEMA = pl.Schema(
    {
        "request_id": pl.String,
        "text": pl.String,
        "finish_reason": pl.String,
        "num_output_tokens": pl.Int64,
        "model": pl.String,
    }
)


class ShardStore:
    """The finished chunks of one run: read what is there, add a chunk atomically."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        # A chunk being written when the process died leaves only a temporary file: drop it.
        for stale in self.directory.glob(".tmp-*"):
            stale.unlink(missing_ok=True)

    def chunk_files(self) -> list[Path]:
        return sorted(self.directory.glob("chunk-*.parquet"))

    def load(self) -> dict[str, Completion]:
        done: dict[str, Completion] = {}
        for path in self.chunk_files():
            for row in pl.read_parquet(path).iter_rows(named=True):
                done[row["request_id"]] = Completion(
                    row["request_id"],
                    row["text"],
                    row["finish_reason"],
                    row["num_output_tokens"],
                    row["model"],
                )
        return done

    def write(self, completions: Sequence[Completion]) -> Path | None:
        if not completions:
            return None
        ids = sorted(c.request_id for c in completions)
        target = self.directory / f"chunk-{stable_id(*ids)}.parquet"
        temporary = self.directory / f".tmp-{target.name}.{os.getpid()}"
        frame = pl.DataFrame(
            [
                {
                    "request_id": c.request_id,
                    "text": c.text,
                    "finish_reason": c.finish_reason,
                    "num_output_tokens": c.num_output_tokens,
                    "model": c.model,
                }
                for c in completions
            ],
            schema=SHARD_SCHEMA,
        )
        frame.write_parquet(temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, target)  # atomic: a chunk is either all there or not at all
        return target


def run_key(*parts: object) -> str:
    """A fingerprint of the settings that shape a completion (model, sampling, system prompt...)."""
    return stable_id(*parts)


def generate_resumable(
    requests: Sequence[ChatRequest],
    sampling: SamplingConfig,
    backend_factory: Callable[[], GenerationBackend],
    *,
    shard_dir: str | os.PathLike,
    chunk_size: int = 64,
    description: str = "generate",
) -> list[Completion]:
    """One completion per request, in request order, completing only what `shard_dir` lacks.

    The backend is built only when there is work left (an engine start can take minutes).
    """
    ids = [r.request_id for r in requests]
    if len(set(ids)) != len(ids):
        raise ValueError("request ids must be unique for resumable generation")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    store = ShardStore(shard_dir)
    wanted = set(ids)
    done = {rid: c for rid, c in store.load().items() if rid in wanted}
    pending = sorted((r for r in requests if r.request_id not in done), key=lambda r: r.request_id)
    chunks = [pending[i : i + chunk_size] for i in range(0, len(pending), chunk_size)]
    logger.info(
        "%s: %d requests, %d already done in %s, %d chunks to run",
        description,
        len(requests),
        len(done),
        store.directory,
        len(chunks),
    )
    errors: dict[str, Completion] = {}
    if chunks:
        started = time.perf_counter()
        tokens = 0
        with (
            backend_factory() as backend,
            tqdm(total=len(pending), desc=description, unit="req") as progress,
        ):
            for chunk in chunks:
                completions = backend.generate(chunk, sampling)
                finished = [c for c in completions if c.finish_reason != "error"]
                errors.update({c.request_id: c for c in completions if c.finish_reason == "error"})
                store.write(finished)
                done.update({c.request_id: c for c in finished})
                tokens += sum(c.num_output_tokens for c in completions)
                rate = tokens / max(time.perf_counter() - started, 1e-9)
                progress.update(len(chunk))
                progress.set_postfix(tok_s=f"{rate:.1f}")
                logger.info(
                    "%s: chunk of %d done, %d/%d requests, %d output tokens, %.1f tokens/s",
                    description,
                    len(chunk),
                    len(done),
                    len(requests),
                    tokens,
                    rate,
                )
    if errors:
        logger.warning(
            "%s: %d requests failed after retries; a rerun retries them", description, len(errors)
        )
    return [done.get(rid) or errors[rid] for rid in ids]
