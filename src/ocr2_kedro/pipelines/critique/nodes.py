"""Critique nodes: each candidate solution -> the critic reasons about it and ends with a binary
judgement (right/wrong). A critique that ends without one can be asked once more for it, in a second
turn (`judgement_follow_up`); what stays unparseable is kept with a null judgement and counted."""

from __future__ import annotations

import logging
from contextlib import ExitStack

import polars as pl

from ocr2_kedro.generation import SamplingConfig, create_backend
from ocr2_kedro.generation.critique import chat_request, opened_once, run_critiques
from ocr2_kedro.generation.prompts import critique_prompt
from ocr2_kedro.generation.resumable import run_key
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
    system_prompt = params.get("system_prompt")
    resume = params.get("resume") or {}
    shard_root = resume.get("shard_dir", "data/02_intermediate/critique_shards")
    key = run_key("critique", params["model"], params["sampling"], system_prompt)
    follow_up = params.get("judgement_follow_up") or {}
    chat = [
        chat_request(row["critique_id"], row["prompt"], row["seed"], system_prompt)
        for row in requests.iter_rows(named=True)
    ]
    with ExitStack() as stack:
        judged = run_critiques(
            chat,
            SamplingConfig.from_dict(params["sampling"]),
            opened_once(stack, lambda: create_backend(params)),
            shard_dir=f"{shard_root}/{key}",
            chunk_size=int(resume.get("chunk_size", 64)),
            follow_up_max_tokens=int(follow_up.get("max_tokens", 16))
            if follow_up.get("enabled")
            else None,
        )
    rows = [
        {
            "generation_id": row["generation_id"],
            "critic_model": item.completion.model,
            "critique": item.completion.text,
            "critique_reasoning": item.reasoning,
            "judgement": item.judgement,
            "judgement_source": item.source,
        }
        for row, item in zip(requests.iter_rows(named=True), judged, strict=True)
    ]
    critiques = conform(rows, CRITIQUE) if rows else pl.DataFrame(schema=CRITIQUE)
    logger.info(
        "%d critiques, %d without a parseable judgement (kept with judgement = null); "
        "%d judgements came from the follow-up turn",
        critiques.height,
        critiques["judgement"].null_count(),
        (critiques["judgement_source"] == "follow_up").sum(),
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
        "follow_up": float((critiques["judgement_source"] == "follow_up").sum()),
    }
    counts["parse_rate"] = (total - counts["unparsed"]) / total if total else 0.0
    return {name: {"value": value, "step": 0} for name, value in counts.items()}
