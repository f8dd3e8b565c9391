"""Generation nodes: questions -> chat requests per language (over-budget questions rejected) ->
resumable completions from the teacher -> parsed, flagged generations + a rejects table."""

from __future__ import annotations

import functools
import logging

import polars as pl

from ocr2_kedro.generation import ChatRequest, SamplingConfig, create_backend
from ocr2_kedro.generation.critique import chat_request
from ocr2_kedro.generation.prompts import solution_prompt
from ocr2_kedro.generation.resumable import generate_resumable, run_key
from ocr2_kedro.generation.token_budget import TokenCounter
from ocr2_kedro.parsing import parse_sample
from ocr2_kedro.schemas import GENERATION, REJECT, conform, stable_id

logger = logging.getLogger(__name__)

REQUEST_SCHEMA = pl.Schema(
    {
        "generation_id": pl.String,
        "question_id": pl.String,
        "language": pl.String,
        "sample_idx": pl.Int64,
        "seed": pl.Int64,
        "prompt": pl.String,
        "prompt_tokens": pl.Int64,
    }
)


@functools.cache
def _token_counter(tokenizer: str | None) -> TokenCounter:
    return TokenCounter(tokenizer)


def build_generation_requests(
    problems: pl.DataFrame, language: str, params: dict
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One request per question and sample (per-sample seed: every sample is reproducible), and a
    reject row for each question whose prompt exceeds `max_question_tokens` teacher tokens."""
    if language not in params["languages"]:  # a language this run does not ask for
        return pl.DataFrame(schema=REQUEST_SCHEMA), pl.DataFrame(schema=REJECT)
    samples = int(params["samples_per_question"])
    base_seed = int(params["sampling"].get("seed", 0))
    budget = params.get("max_question_tokens")
    counter = _token_counter(params.get("tokenizer") or params["model"]) if budget else None
    rows, rejects = [], []
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
        for sample_idx in range(samples):
            rows.append(
                {
                    "generation_id": stable_id(
                        problem["question_id"], language, sample_idx, params["model"]
                    ),
                    "question_id": problem["question_id"],
                    "language": language,
                    "sample_idx": sample_idx,
                    "seed": base_seed + sample_idx,
                    "prompt": prompt,
                    "prompt_tokens": tokens,
                }
            )
    if rejects:
        logger.warning("%s: %d questions over the token budget dropped", language, len(rejects))
    return pl.DataFrame(rows, schema=REQUEST_SCHEMA), conform(rejects, REJECT)


def combine_requests(languages: list[str], *requests: pl.DataFrame) -> pl.DataFrame:
    """Stack the per-language requests, keeping only the languages the run asks for."""
    return pl.concat(requests).filter(pl.col("language").is_in(languages))


def combine_question_rejects(*rejects: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(rejects)


def _chat_requests(requests: pl.DataFrame, system_prompt: str | None) -> list[ChatRequest]:
    return [
        chat_request(row["generation_id"], row["prompt"], row["seed"], system_prompt)
        for row in requests.iter_rows(named=True)
    ]


def generate_solutions(requests: pl.DataFrame, params: dict) -> pl.DataFrame:
    """Complete every request (resumably: finished chunks live in `resume.shard_dir`), then split each
    output into reasoning and code and flag every reason to reject it."""
    sampling = SamplingConfig.from_dict(params["sampling"])
    system_prompt = params.get("system_prompt")
    resume = params.get("resume") or {}
    key = run_key("generation", params["model"], params["sampling"], system_prompt)
    completions = generate_resumable(
        _chat_requests(requests, system_prompt),
        sampling,
        lambda: create_backend(params),
        shard_dir=f"{resume.get('shard_dir', 'data/02_intermediate/generation_shards')}/{key}",
        chunk_size=int(resume.get("chunk_size", 64)),
        description="teacher generation",
    )
    reject_code_in_reasoning = bool(params.get("reject_code_in_reasoning", False))
    rows = []
    for row, completion in zip(requests.iter_rows(named=True), completions, strict=True):
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
                "flags": parsed.flags,
            }
        )
    generations = conform(rows, GENERATION) if rows else pl.DataFrame(schema=GENERATION)
    flagged = generations.filter(pl.col("flags").list.len() > 0).height
    logger.info("%d generations, %d flagged for rejection", generations.height, flagged)
    return generations


def collect_generation_rejects(
    generations: pl.DataFrame, question_rejects: pl.DataFrame
) -> pl.DataFrame:
    """Every question dropped before generation and every flagged sample, one row per reason."""
    flagged = (
        generations.filter(pl.col("flags").list.len() > 0)
        .select("generation_id", "language", "finish_reason", "flags")
        .explode("flags")
        .select(
            pl.lit("generation").alias("stage"),
            pl.col("language").alias("source"),
            pl.col("generation_id").alias("record_id"),
            pl.col("flags").alias("reason"),
            pl.format("finish_reason={}", pl.col("finish_reason")).alias("detail"),
        )
    )
    return pl.concat([conform(question_rejects, REJECT), conform(flagged, REJECT)])
