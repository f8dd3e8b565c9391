"""Critique nodes: each candidate solution -> the critic reasons about it and ends with a binary
judgement (right/wrong); unparseable critiques are kept with a null judgement and counted."""

from __future__ import annotations

import logging

import polars as pl

from ocr2_kedro.generation import ChatRequest, SamplingConfig, create_backend
from ocr2_kedro.generation.prompts import critique_prompt
from ocr2_kedro.generation.resumable import generate_resumable, run_key
from ocr2_kedro.parsing import parse_judgement, split_reasoning
from ocr2_kedro.schemas import CRITIQUE, conform, stable_id

logger = logging.getLogger(__name__)

CRITIQUE_REQUEST_SCHEMA = pl.Schema(
    {
        "critique_id": pl.String,
        "generation_id": pl.String,
        "seed": pl.Int64,
        "prompt": pl.String,
    }
)


def build_critique_requests(
    generations: pl.DataFrame, problems: pl.DataFrame, params: dict
) -> pl.DataFrame:
    """One critique request per generation that has code (nothing to judge otherwise)."""
    candidates = generations.filter(pl.col("solution").is_not_null())
    if params.get("only_unflagged", False):
        candidates = candidates.filter(pl.col("flags").list.len() == 0)
    skipped = generations.height - candidates.height
    if skipped:
        logger.info(
            "critique: %d generations without a candidate to judge are not critiqued", skipped
        )
    joined = candidates.join(
        problems.select("question_id", "question"), on="question_id", how="left"
    )
    missing = joined.filter(pl.col("question").is_null())
    if missing.height:
        raise ValueError(
            f"{missing.height} generations refer to questions absent from problems_dedup, "
            f"e.g. {missing['question_id'][0]}: rerun generation on the current problems"
        )
    seed = int(params["sampling"].get("seed", 0))
    rows = [
        {
            "critique_id": stable_id(row["generation_id"], params["model"]),
            "generation_id": row["generation_id"],
            "seed": seed,
            "prompt": critique_prompt(row["question"], row["language"], row["solution"]),
        }
        for row in joined.iter_rows(named=True)
    ]
    return pl.DataFrame(rows, schema=CRITIQUE_REQUEST_SCHEMA)


def critique_solutions(requests: pl.DataFrame, params: dict) -> pl.DataFrame:
    """Run the critic (resumably) and parse each critique into reasoning and a judgement."""
    sampling = SamplingConfig.from_dict(params["sampling"])
    system_prompt = params.get("system_prompt")
    system = ({"role": "system", "content": system_prompt},) if system_prompt else ()
    chat = [
        ChatRequest(
            row["critique_id"], system + ({"role": "user", "content": row["prompt"]},), row["seed"]
        )
        for row in requests.iter_rows(named=True)
    ]
    resume = params.get("resume") or {}
    key = run_key("critique", params["model"], params["sampling"], system_prompt)
    completions = generate_resumable(
        chat,
        sampling,
        lambda: create_backend(params),
        shard_dir=f"{resume.get('shard_dir', 'data/02_intermediate/critique_shards')}/{key}",
        chunk_size=int(resume.get("chunk_size", 64)),
        description="critique",
    )
    rows = []
    for row, completion in zip(requests.iter_rows(named=True), completions, strict=True):
        reasoning, _answer, _finished = split_reasoning(completion.text)
        rows.append(
            {
                "generation_id": row["generation_id"],
                "critic_model": completion.model,
                "critique": completion.text,
                "critique_reasoning": reasoning,
                "judgement": parse_judgement(completion.text),
            }
        )
    critiques = conform(rows, CRITIQUE) if rows else pl.DataFrame(schema=CRITIQUE)
    unparsed = critiques["judgement"].null_count()
    logger.info(
        "%d critiques, %d without a parseable judgement (kept with judgement = null)",
        critiques.height,
        unparsed,
    )
    return critiques


def summarize_critiques(critiques: pl.DataFrame) -> dict[str, dict[str, float]]:
    """Judgement distribution and parse rate, for MLflow."""
    total = critiques.height
    counts = {
        "critiques": float(total),
        "right": float((critiques["judgement"] == "right").sum()),
        "wrong": float((critiques["judgement"] == "wrong").sum()),
        "unparsed": float(critiques["judgement"].null_count()),
    }
    counts["parse_rate"] = (total - counts["unparsed"]) / total if total else 0.0
    return {name: {"value": value, "step": 0} for name, value in counts.items()}
