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

from ocr2_kedro.generation import ChatRequest, SamplingConfig, create_backend
from ocr2_kedro.generation.critique import chat_request
from ocr2_kedro.generation.prompts import solution_prompt
from ocr2_kedro.generation.resumable import (
    Completions,
    Drivers,
    LazyBackend,
    ShardStore,
    flag,
    frame_chunks,
    prompt_fingerprint,
    read_completions,
    rebatched,
    request_fingerprint,
    run_shards,
)
from ocr2_kedro.generation.token_budget import TokenCounter
from ocr2_kedro.parsing import parse_sample
from ocr2_kedro.schemas import GENERATION, REJECT, conform, run_key, stable_id

logger = logging.getLogger(__name__)

DEFAULT_SHARD_DIR = "data/02_intermediate/generation_shards"
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
def _token_counter(tokenizer: str | None) -> TokenCounter:
    return TokenCounter(tokenizer)


def build_generation_requests(
    problems: pl.DataFrame, language: str, params: dict
) -> tuple[pl.LazyFrame, pl.DataFrame]:
    """One request per question and sample (per-sample seed: every sample is reproducible), and a
    reject row for each question whose prompt exceeds `max_question_tokens` teacher tokens.

    The prompts are built once per question; the requests are a lazy expansion of them into samples
    (about 70 per question at OCR-2 scale), streamed in order by the consumers, so the prompt text is
    never repeated per sample in memory. Each request carries the fingerprint of exactly what the
    teacher is asked (model, system prompt and prompt, sampling settings, seed), and its
    generation_id is made from it: a changed prompt template, system prompt, question text or
    sampling setting gives new ids, generated afresh, while an unchanged request resumes."""
    if language not in params["languages"]:  # a language this run does not ask for
        return pl.LazyFrame(schema=REQUEST_SCHEMA), pl.DataFrame(schema=REJECT)
    samples = int(params["samples_per_question"])
    base_seed = int(params["sampling"].get("seed", 0))
    sampling = SamplingConfig.from_dict(params["sampling"])
    system_prompt = params.get("system_prompt")
    model = params["model"]
    budget = params.get("max_question_tokens")
    counter = _token_counter(params.get("tokenizer") or params["model"]) if budget else None
    questions, rejects = [], []
    for problem in problems.iter_rows(named=True):
        prompt = solution_prompt(
            problem["question"],
            language,
            problem["test_type"],
            problem["starter_code"] or "",
            problem["fn_name"],
        )
        tokens = counter.count(prompt) if counter else None
        if budget and tokens > int(budget):
            rejects.append(
                {
                    "stage": "generation",
                    "source": problem["source"],
                    "record_id": problem["question_id"],
                    "reason": "question_over_token_budget",
                    "detail": f"{language}: {tokens} prompt tokens > {budget}"
                    + ("" if counter.exact else " (estimated)"),
                }
            )
            continue
        messages = chat_request("", prompt, None, system_prompt).messages
        questions.append(
            {
                "question_id": problem["question_id"],
                "prompt": prompt,
                "prompt_tokens": tokens,
                "prompt_fingerprint": prompt_fingerprint(model, messages, sampling),
            }
        )
    if rejects:
        logger.warning("%s: %d questions over the token budget dropped", language, len(rejects))
    requests = (
        pl.LazyFrame(
            questions,
            schema={
                "question_id": pl.String,
                "prompt": pl.String,
                "prompt_tokens": pl.Int64,
                "prompt_fingerprint": pl.String,
            },
        )
        .with_columns(language=pl.lit(language), sample_idx=pl.int_ranges(0, samples))
        .explode("sample_idx")
        .with_columns(
            sample_idx=pl.col("sample_idx").cast(pl.Int64),
            seed=pl.col("sample_idx").cast(pl.Int64) + base_seed,
        )
        .with_columns(
            ids=pl.struct("question_id", "sample_idx", "seed", "prompt_fingerprint").map_batches(
                functools.partial(_request_ids, language=language),
                return_dtype=pl.Struct(
                    {"request_fingerprint": pl.String, "generation_id": pl.String}
                ),
                is_elementwise=True,
            ),
        )
        .unnest("ids")
        .select(list(REQUEST_SCHEMA))
        .cast(REQUEST_SCHEMA)
    )
    return requests, conform(rejects, REJECT)


def _request_ids(keys: pl.Series, language: str) -> pl.Series:
    """(request_fingerprint, generation_id) of each sample: the fingerprint of its exact request
    (its prompt's fingerprint and its seed), and an id made from the question, language, sample
    index and that fingerprint."""
    keys = keys.struct.unnest()
    fingerprints = [
        request_fingerprint(prompt, seed)
        for prompt, seed in zip(
            keys["prompt_fingerprint"].to_list(), keys["seed"].to_list(), strict=True
        )
    ]
    generation_ids = [
        stable_id(question_id, language, sample_idx, fingerprint)
        for question_id, sample_idx, fingerprint in zip(
            keys["question_id"].to_list(), keys["sample_idx"].to_list(), fingerprints, strict=True
        )
    ]
    return pl.DataFrame(
        {"request_fingerprint": fingerprints, "generation_id": generation_ids},
        schema={"request_fingerprint": pl.String, "generation_id": pl.String},
    ).to_struct("ids")


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


def _shard_dir(params: dict) -> str:
    """The run's shard directory: one per teacher, sampling and system prompt (a changed setting
    never reuses stale completions)."""
    resume = params.get("resume") or {}
    key = run_key("generation", params["model"], params["sampling"], params.get("system_prompt"))
    return f"{resume.get('shard_dir', DEFAULT_SHARD_DIR)}/{key}"


def refuse_driver_collect(stage: str, drivers: Drivers) -> None:
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


def generate_solutions(requests: pl.DataFrame | pl.LazyFrame, params: dict) -> dict:
    """Complete this driver's chunks of the requests that are not done yet, writing each finished
    chunk to the shard directory (`resume.shard_dir`); returns the manifest `collect_generations`
    reads. Chunk i holds requests [i * chunk_size, (i + 1) * chunk_size), driver `index` of `count`
    completes the chunks with i % count == index (`drivers`); with `drivers.require_complete` this
    node generates nothing and fails naming the chunks not done."""
    ids = requests.lazy().select("generation_id")
    if ids.select(pl.col("generation_id").is_duplicated().any()).collect().item():
        raise ValueError("generation requests must have unique generation ids")
    total = ids.select(pl.len()).collect().item()
    system_prompt = params.get("system_prompt")
    chunk_size = int((params.get("resume") or {}).get("chunk_size", 64))
    shard_dir = _shard_dir(params)
    drivers_params = params.get("drivers") or {}
    with ExitStack() as stack:
        work = Completions(
            ShardStore(shard_dir),
            SamplingConfig.from_dict(params["sampling"]),
            LazyBackend(stack, lambda: create_backend(params)),
        )
        report = run_shards(
            (_chat_requests(chunk, system_prompt) for chunk in frame_chunks(requests, chunk_size)),
            work,
            shard_dir=shard_dir,
            chunk_size=chunk_size,
            drivers=Drivers.from_params(drivers_params),
            require_complete=flag(drivers_params.get("require_complete", False)),
            total_requests=total,
            description="teacher generation",
        )
    log_shard_report("generation", report.to_dict())
    return report.to_dict()


def collect_generations(
    requests: pl.DataFrame | pl.LazyFrame, shards: dict, params: dict
) -> Iterator[pl.DataFrame]:
    """The `generations` table, built shard by shard: each chunk's completions are split into
    reasoning and code and flagged with every reason to reject them, and handed to the table writer
    in batches (a generator: no step holds all shards). Failed requests become rows with
    finish_reason "error" (flagged), as they are retried by the next run."""
    refuse_driver_collect("generation", Drivers.from_params(params.get("drivers")))
    store = ShardStore(shards["shard_dir"])
    batches = _generation_batches(
        requests,
        store,
        int(shards["chunk_size"]),
        bool(params.get("reject_code_in_reasoning", False)),
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
