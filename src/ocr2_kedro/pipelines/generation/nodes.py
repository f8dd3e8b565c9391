"""Generation nodes: questions -> chat requests per language (over-budget questions rejected) ->
completions from the teacher, written shard by shard (resumable; several drivers can split the job)
-> the shards parsed, one at a time, into the flagged `generations` table + a rejects table."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import ExitStack

import mlflow
import polars as pl

from ocr2_kedro.generation import ChatRequest, create_backend
from ocr2_kedro.generation.requests import chat_request, solution_prompts, solution_requests
from ocr2_kedro.generation.resumable import (
    Completions,
    LazyBackend,
    ShardStore,
    frame_chunks,
    read_completions,
    rebatched,
    run_shards,
)
from ocr2_kedro.generation.token_budget import TokenCounter
from ocr2_kedro.parameters.backends import DriversSettings
from ocr2_kedro.parameters.generation import GenerationSettings
from ocr2_kedro.parsing import parse_sample
from ocr2_kedro.schemas import GENERATION, REJECT, conform, reject, rejects_frame, run_key

logger = logging.getLogger(__name__)

# Rows per batch handed to the table writer (about one row group of StreamingParquetDataset).
BATCH_ROWS = 2_000

REQUEST_SCHEMA = pl.Schema(
    {
        "generation_id": pl.String,
        "question_id": pl.String,
        "language": pl.String,
        "sample_idx": pl.Int64,
        "seed": pl.Int64,
        "prompt": pl.String,
        "prompt_tokens": pl.Int64,
        # Of the exact request (model, messages, sampling, seed): part of generation_id.
        "request_fingerprint": pl.String,
    }
)


@functools.cache
def _token_counter(tokenizer: str) -> TokenCounter:
    return TokenCounter(tokenizer)


def build_generation_requests(
    problems: pl.DataFrame, language: str, settings: GenerationSettings
) -> tuple[pl.LazyFrame, pl.DataFrame]:
    """One request per question and sample (per-sample seed: every sample is reproducible), and a
    reject row for each question whose prompt exceeds `max_question_tokens` teacher tokens.

    The prompts are built once per question; the requests are a lazy expansion of them into samples
    (about 70 per question at OCR-2 scale), streamed in order by the consumers, so the prompt text is
    never repeated per sample in memory. Each request carries the fingerprint of exactly what the
    teacher is asked (model, system prompt and prompt, sampling settings, seed), and its
    generation_id is made from it (`generation.requests`): a changed prompt template, system prompt,
    question text or sampling setting gives new ids, generated afresh, while an unchanged request
    resumes."""
    if language not in settings.languages:  # a language this run does not ask for
        return pl.LazyFrame(schema=REQUEST_SCHEMA), pl.DataFrame(schema=REJECT)
    budget = settings.max_question_tokens
    counter = _token_counter(settings.budget_tokenizer) if budget else None
    prompts = solution_prompts(
        problems,
        [language],
        model=settings.model,
        sampling=settings.sampling.config(),
        system_prompt=settings.system_prompt,
        count_tokens=counter.count if counter else None,
    )
    over_budget = pl.col("prompt_tokens") > budget if budget else pl.lit(False)
    sources = dict(zip(problems["question_id"], problems["source"], strict=True))
    rejects = [
        reject(
            stage="generation",
            source=sources[question_id],
            record_id=question_id,
            reason="question_over_token_budget",
            detail=f"{language}: {tokens} prompt tokens > {budget}"
            + ("" if counter.exact else " (estimated)"),
        )
        for question_id, tokens in prompts.filter(over_budget)
        .select("question_id", "prompt_tokens")
        .iter_rows()
    ]
    if rejects:
        logger.warning("%s: %d questions over the token budget dropped", language, len(rejects))
    requests = solution_requests(
        prompts.filter(~over_budget),
        samples=settings.samples_per_question,
        base_seed=settings.sampling.seed,
    )
    return requests.select(list(REQUEST_SCHEMA)).cast(REQUEST_SCHEMA), rejects_frame(rejects)


def combine_requests(languages: list[str], *requests: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """Stack the per-language requests (lazily), keeping only the languages the run asks for."""
    return pl.concat([frame.lazy() for frame in requests]).filter(
        pl.col("language").is_in(languages)
    )


def combine_question_rejects(*rejects: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(rejects)


def _chat_requests(requests: pl.DataFrame, system_prompt: str | None) -> list[ChatRequest]:
    return [
        chat_request(row["generation_id"], row["prompt"], row["seed"], system_prompt)
        for row in requests.iter_rows(named=True)
    ]


def _shard_dir(settings: GenerationSettings) -> str:
    """The run's shard directory: one per teacher, sampling and system prompt (a changed setting
    never reuses stale completions)."""
    key = run_key("generation", settings.model, settings.sampling.as_dict(), settings.system_prompt)
    return settings.resume.shard_path(key)


def refuse_driver_collect(stage: str, drivers: DriversSettings) -> None:
    """A table is built by one collecting run, never by one driver of an array."""
    if drivers.count > 1:
        raise ValueError(
            f"{stage}.drivers.count is {drivers.count}: a driver run writes shards only "
            f"(`kedro run --pipelines {stage} --tags shards ...`); build the table in a later run "
            f"with {stage}.drivers.count=1 once every driver has finished"
        )


def log_shard_report(stage: str, report: dict) -> None:
    """This driver's manifest into its MLflow run (`shards/<stage>-driver-<i>-of-<n>.json`), with
    tags a job array can be searched by: which chunks it completed, which are not done."""
    if mlflow.active_run() is None:
        return
    drivers = report.get("drivers") or {}
    index, count = drivers.get("index", 0), drivers.get("count", 1)
    mlflow.log_dict(report, f"shards/{stage}-driver-{index}-of-{count}.json")
    mlflow.set_tags(
        {
            f"{stage}.driver": f"{index}/{count}",
            f"{stage}.completed_chunks": report.get("completed_chunks") or "-",
            f"{stage}.incomplete_chunks": report.get("incomplete_chunks") or "-",
        }
    )


def generate_solutions(requests: pl.DataFrame | pl.LazyFrame, settings: GenerationSettings) -> dict:
    """Complete this driver's chunks of the requests that are not done yet, writing each finished
    chunk to the shard directory (`resume.shard_dir`); returns the manifest `collect_generations`
    reads. Chunk i holds requests [i * chunk_size, (i + 1) * chunk_size), driver `index` of `count`
    completes the chunks with i % count == index (`drivers`); with `drivers.require_complete` this
    node generates nothing and fails naming the chunks not done."""
    ids = requests.lazy().select("generation_id")
    if ids.select(pl.col("generation_id").is_duplicated().any()).collect().item():
        raise ValueError("generation requests must have unique generation ids")
    total = ids.select(pl.len()).collect().item()
    chunk_size = settings.resume.chunk_size
    shard_dir = _shard_dir(settings)
    with ExitStack() as stack:
        work = Completions(
            ShardStore(shard_dir),
            settings.sampling.config(),
            LazyBackend(stack, lambda: create_backend(settings.backend_config(settings.model))),
        )
        report = run_shards(
            (
                _chat_requests(chunk, settings.system_prompt)
                for chunk in frame_chunks(requests, chunk_size)
            ),
            work,
            shard_dir=shard_dir,
            chunk_size=chunk_size,
            drivers=settings.drivers.drivers(),
            require_complete=settings.drivers.require_complete,
            total_requests=total,
            description="teacher generation",
        )
    log_shard_report("generation", report.to_dict())
    return report.to_dict()


def collect_generations(
    requests: pl.DataFrame | pl.LazyFrame, shards: dict, settings: GenerationSettings
) -> Iterator[pl.DataFrame]:
    """The `generations` table, built shard by shard: each chunk's completions are split into
    reasoning and code and flagged with every reason to reject them, and handed to the table writer
    in batches (a generator: no step holds all shards). Failed requests become rows with
    finish_reason "error" (flagged), as they are retried by the next run."""
    refuse_driver_collect("generation", settings.drivers)
    store = ShardStore(shards["shard_dir"])
    batches = _generation_batches(
        requests, store, int(shards["chunk_size"]), settings.reject_code_in_reasoning
    )
    return rebatched(batches, BATCH_ROWS, GENERATION)


def _generation_batches(
    requests: pl.DataFrame | pl.LazyFrame,
    store: ShardStore,
    chunk_size: int,
    reject_code_in_reasoning: bool,
) -> Iterator[pl.DataFrame]:
    total = flagged = 0
    for index, chunk in enumerate(frame_chunks(requests, chunk_size)):
        completions = read_completions(store, index, chunk["generation_id"].to_list())
        rows = []
        for row, completion in zip(chunk.iter_rows(named=True), completions, strict=True):
            parsed = parse_sample(
                completion.text,
                row["language"],
                completion.finish_reason,
                reject_code_in_reasoning=reject_code_in_reasoning,
                error=completion.error,
            )
            rows.append(
                {
                    **row,
                    "model": completion.model,
                    "output": completion.text,
                    "reasoning": parsed.reasoning,
                    "solution": parsed.solution,
                    "finish_reason": completion.finish_reason,
                    "num_output_tokens": completion.num_output_tokens,
                    "mean_token_entropy": completion.mean_token_entropy,
                    "flags": parsed.flags,
                }
            )
        batch = conform(rows, GENERATION)
        total += batch.height
        flagged += batch.filter(pl.col("flags").list.len() > 0).height
        yield batch
    logger.info("%d generations, %d flagged for rejection", total, flagged)


def collect_generation_rejects(
    generations: pl.LazyFrame | pl.DataFrame, question_rejects: pl.DataFrame
) -> pl.DataFrame:
    """Every question dropped before generation and every flagged sample, one row per reason (read
    from the four narrow columns it needs)."""
    flagged = (
        generations.lazy()
        .select("generation_id", "language", "finish_reason", "flags")
        .filter(pl.col("flags").list.len() > 0)
        .explode("flags")
        .select(
            pl.lit("generation").alias("stage"),
            pl.col("language").alias("source"),
            pl.col("generation_id").alias("record_id"),
            pl.col("flags").alias("reason"),
            pl.format("finish_reason={}", pl.col("finish_reason")).alias("detail"),
        )
        .collect()
    )
    return pl.concat([conform(question_rejects, REJECT), conform(flagged, REJECT)])
