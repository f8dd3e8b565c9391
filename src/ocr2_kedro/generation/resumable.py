"""Sharded, resumable generation: requests are cut into chunks by their order (chunk i holds requests
[i * chunk_size, (i + 1) * chunk_size)), and every finished chunk is written to a shard directory at
once (atomically). Shards are the unit of resume, of storage and of reading back:

- resume: a run killed part-way (even with SIGKILL) and started again completes only what is
  missing, and every request ends up exactly once;
- drivers: since any process can tell which chunk is whose, several processes (a scheduler's job
  array, on several nodes over shared storage) split one job, driver `index` of `count` completing
  the chunks with i % count == index;
- reading: a consumer reads one chunk at a time (`read_completions`), never the whole job.

Layout of `<shard_dir>` (one directory per run key, see `run_key`):

    chunk-<i>-<hash of its request ids>.parquet   the chunk's completions, one row per request
    errors/chunk-<i>-<hash>.parquet               requests of chunk i that failed in the last try

A chunk is done when its file is there, or when every one of its requests is found in other chunk
files (written with another chunk size, or a partial chunk whose failed requests were retried since).
Failed requests are kept apart, never counted as done, so the next run retries them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import polars as pl
from tqdm.auto import tqdm

from ocr2_kedro.generation.base import ChatRequest, Completion, GenerationBackend, SamplingConfig
from ocr2_kedro.schemas import stable_id
from ocr2_kedro.tables.files import is_stale_temporary, write_parquet_atomically

logger = logging.getLogger(__name__)

SHARD_SCHEMA = pl.Schema(
    {
        "request_id": pl.String,
        "text": pl.String,
        "finish_reason": pl.String,
        "num_output_tokens": pl.Int64,
        "model": pl.String,
        # Null unless the run asked for log-probabilities (sampling.logprobs); absent from shards
        # written before it existed, which read back as null.
        "mean_token_entropy": pl.Float64,
    }
)
ERROR_SCHEMA = pl.Schema({**SHARD_SCHEMA, "error": pl.String})


class IncompleteShardsError(RuntimeError):
    """Chunks a run needs are not done (another driver's, or required complete and missing)."""


@dataclass(frozen=True)
class Drivers:
    """This process is driver `index` of `count` (0-based); it completes the chunks with
    i % count == index. Built from the settings by `parameters.backends.DriversSettings.drivers`,
    which takes an array's own task ids (`first_index`)."""

    count: int = 1
    index: int = 0

    def owns(self, chunk: int) -> bool:
        return chunk % self.count == self.index


ONE_DRIVER = Drivers()


def chunk_name(index: int, ids: Iterable[str]) -> str:
    return f"chunk-{index:06d}-{stable_id(*sorted(ids))}.parquet"


def _frame(completions: Sequence[Completion], schema: pl.Schema) -> pl.DataFrame:
    return pl.DataFrame(
        [{name: getattr(c, name) for name in schema.names()} for c in completions], schema=schema
    )


def _completions(frame: pl.DataFrame) -> Iterator[Completion]:
    for row in frame.iter_rows(named=True):
        yield Completion(
            row["request_id"],
            row["text"],
            row["finish_reason"],
            row["num_output_tokens"],
            row["model"],
            row.get("error"),
            row.get("mean_token_entropy"),
        )


class ShardStore:
    """The chunk files of one run: which chunks are done, read a chunk, add one atomically."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self.errors_directory = self.directory / "errors"
        self.directory.mkdir(parents=True, exist_ok=True)
        for folder in (self.directory, self.errors_directory):
            for temporary in folder.glob(".tmp-*"):
                if is_stale_temporary(temporary):
                    temporary.unlink(missing_ok=True)
        self._index: pl.DataFrame | None = None
        self._paths: list[str] = []

    def chunk_files(self) -> list[Path]:
        return sorted(self.directory.glob("chunk-*.parquet"))

    def load(self) -> dict[str, Completion]:
        """Every stored completion (small runs and tests; a job reads chunk by chunk)."""
        return {
            c.request_id: c
            for path in self.chunk_files()
            for c in _completions(pl.read_parquet(path))
        }

    # Where each request id lives among the chunk files: built on first need (a chunk without its
    # own file) from the files' id column alone, about 40 bytes per stored request.
    def _lookup(self) -> pl.DataFrame:
        if self._index is None:
            self._paths = []
            parts = [pl.DataFrame(schema={"request_id": pl.String, "file": pl.UInt32})]
            for path in self.chunk_files():
                try:
                    ids = pl.read_parquet(path, columns=["request_id"])
                except FileNotFoundError:  # replaced by its chunk's own file meanwhile
                    continue
                parts.append(ids.with_columns(file=pl.lit(len(self._paths), pl.UInt32)))
                self._paths.append(str(path))
            self._index = pl.concat(parts).unique("request_id", keep="last")
        return self._index

    def _located(self, ids: Sequence[str]) -> pl.DataFrame:
        """(request_id, path) of those of `ids` found in some chunk file."""
        found = pl.DataFrame({"request_id": list(ids)}).join(
            self._lookup(), on="request_id", how="inner"
        )
        paths = pl.Series("path", self._paths, dtype=pl.String).gather(found["file"])
        return found.select("request_id").with_columns(paths)

    def is_done(self, index: int, ids: Sequence[str]) -> bool:
        if not ids or (self.directory / chunk_name(index, ids)).exists():
            return True
        return self._located(ids).height == len(ids)

    def read(self, index: int, ids: Sequence[str]) -> dict[str, Completion]:
        """The stored completions of chunk `index` (those of `ids` that are done)."""
        canonical = self.directory / chunk_name(index, ids)
        if canonical.exists():
            return {c.request_id: c for c in _completions(pl.read_parquet(canonical))}
        located = self._located(ids)
        found: dict[str, Completion] = {}
        for (path,), part in located.group_by("path"):
            wanted = part["request_id"]
            rows = (
                pl.scan_parquet(path).filter(pl.col("request_id").is_in(wanted.to_list())).collect()
            )
            found.update((c.request_id, c) for c in _completions(rows))
        return found

    def read_errors(self, index: int, ids: Sequence[str]) -> dict[str, Completion]:
        path = self.errors_directory / chunk_name(index, ids)
        if not path.exists():
            return {}
        return {c.request_id: c for c in _completions(pl.read_parquet(path))}

    def write(self, completions: Sequence[Completion], index: int) -> Path | None:
        """Store finished completions of chunk `index` as one file (named by index and ids)."""
        if not completions:
            return None
        target = self.directory / chunk_name(index, [c.request_id for c in completions])
        return write_parquet_atomically(_frame(completions, SHARD_SCHEMA), target)

    def write_errors(self, index: int, ids: Sequence[str], errors: Sequence[Completion]) -> None:
        """Replace chunk `index`'s failed requests (none: the file goes)."""
        path = self.errors_directory / chunk_name(index, ids)
        if errors:
            path.parent.mkdir(exist_ok=True)
            write_parquet_atomically(_frame(errors, ERROR_SCHEMA), path)
        else:
            path.unlink(missing_ok=True)

    def complete(
        self,
        index: int,
        requests: Sequence[ChatRequest],
        generate: Callable[[Sequence[ChatRequest]], list[Completion]],
    ) -> tuple[list[Completion], int, int]:
        """Chunk `index` in request order, generating only what is not stored; (completions, how
        many requests were sent, how many of those failed). A chunk finished here is stored whole
        in its own file; a partial one (some requests failed) keeps its finished part in a file of
        its own, so nothing is lost, and its failures in errors/."""
        ids = [r.request_id for r in requests]
        done = self.read(index, ids)
        pending = [r for r in requests if r.request_id not in done]
        fresh = generate(pending) if pending else []
        finished = [c for c in fresh if c.finish_reason != "error"]
        errors = [c for c in fresh if c.finish_reason == "error"]
        done.update((c.request_id, c) for c in finished)
        if errors:
            self.write(finished, index)
        else:
            own = self.write([done[i] for i in ids], index)
            self._drop_covered(ids, own)
        self.write_errors(index, ids, errors)
        failed = {c.request_id: c for c in errors}
        return [done.get(i) or failed[i] for i in ids], len(pending), len(errors)

    def _drop_covered(self, ids: Sequence[str], own: Path | None) -> None:
        """Remove the files that held only requests of this chunk: its own file now has them."""
        if self._index is None:
            return
        wanted = set(ids)
        for path in self._located(ids)["path"].unique().to_list():
            if path == str(own) or not Path(path).exists():
                continue
            if set(pl.read_parquet(path, columns=["request_id"])["request_id"]) <= wanted:
                Path(path).unlink(missing_ok=True)
                file = self._paths.index(path)
                self._index = self._index.filter(pl.col("file") != file)


def read_completions(store: ShardStore, index: int, ids: Sequence[str]) -> list[Completion]:
    """Chunk `index`'s completions in request order: stored ones, and the failed ones of its last
    try (error completions). A request with neither was never tried: IncompleteShardsError."""
    done = store.read(index, ids)
    if len(done) < len(ids):
        done = {**store.read_errors(index, ids), **done}
    missing = [i for i in ids if i not in done]
    if missing:
        raise IncompleteShardsError(
            f"chunk {index} of {store.directory} lacks {len(missing)} of its {len(ids)} requests "
            f"(e.g. {missing[0]}): complete the job's chunks before reading them"
        )
    return [done[i] for i in ids]


def prompt_fingerprint(model: str, messages: Sequence[Mapping], sampling: SamplingConfig) -> str:
    """A fingerprint of everything a request asks a backend except its seed: the model, the chat
    messages (system prompt and prompt, so the prompt template and the question text) and the
    sampling settings. A setting that is off (null, e.g. `logprobs`) is left out, as in `run_key`.
    `request_fingerprint` adds the seed; one prompt sampled many times is fingerprinted once."""
    settings = {
        name: value
        for name, value in asdict(sampling).items()
        if value is not None and name != "seed"
    }
    return stable_id("prompt", model, [dict(m) for m in messages], settings, length=32)


def request_fingerprint(prompt_key: str, seed: int) -> str:
    """The fingerprint of one exact request: its `prompt_fingerprint` and the seed it is sampled
    with. Ids made from it (generation, critique and evaluation sample ids) change whenever the
    model, a message, a sampling setting or the seed does, so a changed prompt template, system
    prompt or question is generated afresh while an unchanged request resumes from its shard."""
    # Called once per sample (millions at paper scale): a plain digest of two unambiguous parts
    # (a hex key and an integer), without stable_id's JSON encoding.
    return hashlib.sha256(f"request/{prompt_key}/{int(seed)}".encode()).hexdigest()[:32]


def fingerprint_request(model: str, request: ChatRequest, sampling: SamplingConfig) -> str:
    """`request_fingerprint` of `request` as a backend samples it (its own seed, else the
    sampling's)."""
    seed = request.seed if request.seed is not None else sampling.seed
    return request_fingerprint(prompt_fingerprint(model, request.messages, sampling), seed)


def chunked(items: Iterable, chunk_size: int) -> Iterator[list]:
    """Consecutive chunks of `chunk_size` (the last may be shorter): chunk i = items[i*n:(i+1)*n]."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def ranges(indices: Iterable[int]) -> str:
    """`0-3, 7, 9-11` from sorted chunk indices."""
    spans: list[list[int]] = []
    for i in indices:
        if spans and i == spans[-1][1] + 1:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans)


class ChunkWork(Protocol):
    """What one chunk of a job means: when it is done, and how to complete it."""

    def is_done(self, index: int, requests: Sequence[ChatRequest]) -> bool: ...

    def complete(self, index: int, requests: Sequence[ChatRequest]) -> tuple[int, int]:
        """Complete what the chunk lacks; (requests sent, requests that failed)."""
        ...


class LazyBackend:
    """The backend, opened on first use (an engine start can take minutes; a fully resumed run
    starts none) and closed with `stack`. `factory` returns a backend or a context manager of one."""

    def __init__(
        self,
        stack: ExitStack,
        factory: Callable[[], GenerationBackend | AbstractContextManager[GenerationBackend]],
    ) -> None:
        self._stack, self._factory = stack, factory
        self._backend: GenerationBackend | None = None

    def __call__(self) -> GenerationBackend:
        if self._backend is None:
            self._backend = self._stack.enter_context(self._factory())
        return self._backend


@dataclass
class Completions:
    """The plain job: each request is one completion, stored in `store`."""

    store: ShardStore
    sampling: SamplingConfig
    backend: Callable[[], GenerationBackend]
    output_tokens: int = 0

    def is_done(self, index: int, requests: Sequence[ChatRequest]) -> bool:
        return self.store.is_done(index, [r.request_id for r in requests])

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        completions = self.backend().generate(list(requests), self.sampling)
        self.output_tokens += sum(c.num_output_tokens for c in completions)
        return completions

    def complete(self, index: int, requests: Sequence[ChatRequest]) -> tuple[int, int]:
        _, sent, failed = self.store.complete(index, requests, self.generate)
        return sent, failed


@dataclass
class ShardReport:
    """What a run of a sharded job found and did: the manifest a collecting step reads."""

    shard_dir: str
    chunk_size: int
    drivers: dict = field(default_factory=dict)
    chunks: int = 0
    requests: int = 0
    chunks_done_before: int = 0
    completed_chunks: list[int] = field(default_factory=list)
    requests_sent: int = 0
    requests_failed: int = 0
    incomplete_chunks: list[int] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.incomplete_chunks

    def to_dict(self) -> dict:
        report = asdict(self)
        report["completed_chunks"] = ranges(self.completed_chunks)
        report["incomplete_chunks"] = ranges(self.incomplete_chunks)
        return report


def run_shards(
    chunks: Iterable[Sequence[ChatRequest]],
    work: ChunkWork,
    *,
    shard_dir: str | os.PathLike,
    chunk_size: int,
    drivers: Drivers = ONE_DRIVER,
    require_complete: bool = False,
    total_requests: int | None = None,
    description: str = "generate",
) -> ShardReport:
    """Complete this driver's chunks that are not done, and say which chunks of the job are not.

    `chunks` must be the job's chunks in order (`chunked(requests, chunk_size)`); every driver
    passes the same ones. With `require_complete`, nothing is generated: a job with chunks left
    undone raises IncompleteShardsError naming them (a collecting run that must not generate).
    """
    report = ShardReport(str(shard_dir), chunk_size, asdict(drivers))
    started = time.perf_counter()
    with tqdm(total=total_requests, desc=description, unit="req") as progress:
        for index, requests in enumerate(chunks):
            report.chunks += 1
            report.requests += len(requests)
            if work.is_done(index, requests):
                report.chunks_done_before += 1
            elif require_complete or not drivers.owns(index):
                report.incomplete_chunks.append(index)
            else:
                sent, failed = work.complete(index, requests)
                report.requests_sent += sent
                report.requests_failed += failed
                if failed:
                    report.incomplete_chunks.append(index)
                else:
                    report.completed_chunks.append(index)
                tokens = getattr(work, "output_tokens", 0)
                rate = tokens / max(time.perf_counter() - started, 1e-9)
                progress.set_postfix(tok_s=f"{rate:.1f}")
                logger.info(
                    "%s: chunk %d done (%d requests sent, %d failed), %d output tokens, %.1f "
                    "tokens/s",
                    description,
                    index,
                    sent,
                    failed,
                    tokens,
                    rate,
                )
            progress.update(len(requests))
    logger.info(
        "%s: %d requests in %d chunks of %d; driver %d of %d completed chunks [%s] (%d requests "
        "sent), %d chunks were done before; not done: [%s]",
        description,
        report.requests,
        report.chunks,
        chunk_size,
        drivers.index,
        drivers.count,
        ranges(report.completed_chunks),
        report.requests_sent,
        report.chunks_done_before,
        ranges(report.incomplete_chunks),
    )
    if report.requests_failed:
        logger.warning(
            "%s: %d requests failed after retries; a rerun retries them",
            description,
            report.requests_failed,
        )
    if require_complete and report.incomplete_chunks:
        raise IncompleteShardsError(
            f"{description}: {len(report.incomplete_chunks)} of {report.chunks} chunks are not done "
            f"in {shard_dir} (chunk i holds requests [i*{chunk_size}, (i+1)*{chunk_size}) in "
            f"request order; a driver of count n completes the chunks with i % n == its index): "
            f"chunks {ranges(report.incomplete_chunks)}. require_complete is set, so this run "
            "generates nothing: run the drivers that own them again, or collect with "
            "require_complete=false to complete them in this run."
        )
    return report


def generate_resumable(
    requests: Sequence[ChatRequest],
    sampling: SamplingConfig,
    backend_factory: Callable[[], GenerationBackend | AbstractContextManager[GenerationBackend]],
    *,
    shard_dir: str | os.PathLike,
    chunk_size: int = 64,
    description: str = "generate",
) -> list[Completion]:
    """One completion per request, in request order, completing only what `shard_dir` lacks (a
    single driver; small jobs such as evaluation: the result is a list in memory).

    The backend is built only when there is work left (an engine start can take minutes).
    """
    ids = [r.request_id for r in requests]
    if len(set(ids)) != len(ids):
        raise ValueError("request ids must be unique for resumable generation")
    store = ShardStore(shard_dir)
    with ExitStack() as stack:
        work = Completions(store, sampling, LazyBackend(stack, backend_factory))
        run_shards(
            chunked(requests, chunk_size),
            work,
            shard_dir=shard_dir,
            chunk_size=chunk_size,
            total_requests=len(requests),
            description=description,
        )
    reader = ShardStore(shard_dir)
    return [
        completion
        for index, chunk in enumerate(chunked(ids, chunk_size))
        for completion in read_completions(reader, index, chunk)
    ]


def frame_chunks(frame: pl.DataFrame | pl.LazyFrame, size: int) -> Iterator[pl.DataFrame]:
    """Consecutive row chunks of `size` rows (the last may be shorter), in row order; a LazyFrame
    is streamed, so only about one chunk is in memory at a time."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    if isinstance(frame, pl.DataFrame):
        yield from frame.iter_slices(size)
        return
    pending: pl.DataFrame | None = None
    for batch in frame.collect_batches(maintain_order=True):
        pending = batch if pending is None else pl.concat([pending, batch])
        while pending.height >= size:
            yield pending.head(size)
            pending = pending.slice(size)
    if pending is not None and pending.height:
        yield pending


def rebatched(
    batches: Iterable[pl.DataFrame], rows: int, schema: pl.Schema
) -> Iterator[pl.DataFrame]:
    """Batches of at least `rows` rows (the last may be shorter) from smaller ones, so a table
    written batch by batch gets row groups of a useful size; one empty frame when there are none."""
    pending: list[pl.DataFrame] = []
    held, yielded = 0, False
    for batch in batches:
        pending.append(batch)
        held += batch.height
        if held >= rows:
            yield pl.concat(pending)
            pending, held, yielded = [], 0, True
    if held or not yielded:
        yield pl.concat(pending) if pending else pl.DataFrame(schema=schema)
