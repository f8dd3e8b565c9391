"""Generation nodes: questions -> chat requests per language -> completions from the teacher."""

from __future__ import annotations

import logging
import time

import polars as pl

from ocr2_kedro.generation import ChatRequest, SamplingConfig, create_backend
from ocr2_kedro.generation.prompts import solution_prompt
from ocr2_kedro.parsing import extract_code, split_reasoning
from ocr2_kedro.schemas import GENERATION, conform, stable_id

logger = logging.getLogger(__name__)

REQUEST_SCHEMA = pl.Schema(
    {
        "generation_id": pl.String,
        "question_id": pl.String,
        "language": pl.String,
        "sample_idx": pl.Int64,
        "seed": pl.Int64,
        "prompt": pl.String,
    }
)


def build_generation_requests(problems: pl.DataFrame, language: str, params: dict) -> pl.DataFrame:
    """One request per question and sample, with a per-sample seed so every sample is reproducible."""
    samples = int(params["samples_per_question"])
    base_seed = int(params["sampling"].get("seed", 0))
    rows = []
    for problem in problems.iter_rows(named=True):
        prompt = solution_prompt(
            problem["question"],
            language,
            problem["test_type"],
            problem["starter_code"] or "",
            problem["fn_name"],
        )
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
                }
            )
    return pl.DataFrame(rows, schema=REQUEST_SCHEMA)


def combine_requests(languages: list[str], *requests: pl.DataFrame) -> pl.DataFrame:
    """Stack the per-language requests, keeping only the languages the run asks for."""
    return pl.concat(requests).filter(pl.col("language").is_in(languages))


def generate_solutions(requests: pl.DataFrame, params: dict) -> pl.DataFrame:
    """Complete every request with the configured backend and split each output into reasoning and code."""
    sampling = SamplingConfig.from_dict(params["sampling"])
    system_prompt = params.get("system_prompt")
    chat_requests = [
        ChatRequest(
            request_id=row["generation_id"],
            messages=(({"role": "system", "content": system_prompt},) if system_prompt else ())
            + ({"role": "user", "content": row["prompt"]},),
            seed=row["seed"],
        )
        for row in requests.iter_rows(named=True)
    ]
    started = time.perf_counter()
    with create_backend(params) as backend:
        completions = backend.generate(chat_requests, sampling)
    elapsed = time.perf_counter() - started
    tokens = sum(c.num_output_tokens for c in completions)
    logger.info(
        "generated %d completions, %d tokens in %.1fs (%.1f tokens/s)",
        len(completions),
        tokens,
        elapsed,
        tokens / max(elapsed, 1e-9),
    )
    by_id = {c.request_id: c for c in completions}
    rows = []
    for row in requests.iter_rows(named=True):
        completion = by_id[row["generation_id"]]
        reasoning, answer, finished = split_reasoning(completion.text)
        solution = extract_code(answer, row["language"])
        flags = []
        if completion.finish_reason == "length":
            flags.append("truncated")
        if not finished:
            flags.append("unclosed_think")
        if solution is None:
            flags.append("no_code")
        if completion.error:
            flags.append("backend_error")
        rows.append(
            {
                **row,
                "model": completion.model,
                "output": completion.text,
                "reasoning": reasoning,
                "solution": solution,
                "finish_reason": completion.finish_reason,
                "num_output_tokens": completion.num_output_tokens,
                "flags": flags,
            }
        )
    return conform(rows, GENERATION) if rows else pl.DataFrame(schema=GENERATION)
