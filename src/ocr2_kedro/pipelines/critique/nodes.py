"""Critique nodes: each candidate solution -> the critic reasons about it and ends with a binary
judgement (right/wrong). A critique that ends without one can be asked once more for it, in a second
turn (`judgement_follow_up`); what stays unparseable is kept with a null judgement and counted.

Like generation, critiques are written shard by shard (resumable; several drivers can split the
job) and the `critiques` table is built from the shards one at a time. The requests are never held
whole: the candidates are streamed from `generations` in table order, chunk by chunk.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import polars as pl

from ocr2_kedro.generation import ChatRequest, create_backend
from ocr2_kedro.generation.critique import complete_critique_shards, follow_up_store, read_judged
from ocr2_kedro.generation.requests import chat_request, critique_request
from ocr2_kedro.generation.resumable import ShardStore, frame_chunks, rebatched
from ocr2_kedro.parameters.critique import CritiqueSettings
from ocr2_kedro.pipelines.generation.nodes import (
    BATCH_ROWS,
    log_shard_report,
    refuse_driver_collect,
)
from ocr2_kedro.schemas import CRITIQUE, conform, run_key

logger = logging.getLogger(__name__)

CRITIQUE_REQUEST_SCHEMA = pl.Schema(
    {
        "critique_id": pl.String,
        "generation_id": pl.String,
        "seed": pl.Int64,
        "prompt": pl.String,
        # Of the exact critique request (critic, messages, sampling, seed): part of critique_id.
        "request_fingerprint": pl.String,
    }
)


def _candidates(
    generations: pl.DataFrame | pl.LazyFrame, settings: CritiqueSettings
) -> pl.LazyFrame:
    """The generations to critique, in table order: those with code (nothing to judge otherwise)
    and, with `only_unflagged`, no flag."""
    candidates = generations.lazy().filter(pl.col("solution").is_not_null())
    if settings.only_unflagged:
        candidates = candidates.filter(pl.col("flags").list.len() == 0)
    return candidates


def _check_questions(
    generations: pl.DataFrame | pl.LazyFrame, problems: pl.DataFrame, settings: CritiqueSettings
) -> None:
    candidates = _candidates(generations, settings).select("question_id")
    counts = (
        pl.concat(
            [
                generations.lazy().select(pl.len().alias("n")),
                candidates.select(pl.len().alias("n")),
                candidates.join(
                    problems.lazy().select("question_id"), on="question_id", how="anti"
                ).select(pl.len().alias("n")),
            ]
        )
        .collect()["n"]
        .to_list()
    )
    total, wanted, unknown = counts
    if unknown:
        example = (
            candidates.join(problems.lazy().select("question_id"), on="question_id", how="anti")
            .head(1)
            .collect()["question_id"][0]
        )
        raise ValueError(
            f"{unknown} generations refer to questions absent from problems_dedup, "
            f"e.g. {example}: rerun generation on the current problems"
        )
    if total > wanted:
        logger.info(
            "critique: %d generations without a candidate to judge are not critiqued",
            total - wanted,
        )


def critique_request_chunks(
    generations: pl.DataFrame | pl.LazyFrame,
    problems: pl.DataFrame,
    settings: CritiqueSettings,
    chunk_size: int,
) -> Iterator[pl.DataFrame]:
    """The critique requests (critique_id, generation_id, seed, prompt, request_fingerprint),
    `chunk_size` at a time, in table order: chunk i is the same in every driver. A critique_id is
    made from the generation it judges and the fingerprint of the exact request (critic, system
    prompt and prompt, with the question and the solution, sampling, seed): a changed critique
    prompt, question or extracted solution is critiqued afresh, an unchanged one resumes
    (`generation.requests.critique_request`)."""
    questions = problems.lazy().select("question_id", "question").collect()
    seed = settings.sampling.seed
    sampling = settings.sampling.config()
    columns = _candidates(generations, settings).select(
        "generation_id", "question_id", "language", "solution"
    )
    for chunk in frame_chunks(columns, chunk_size):
        joined = chunk.join(questions, on="question_id", how="left", maintain_order="left")
        rows = []
        for row in joined.iter_rows(named=True):
            built = critique_request(
                row["generation_id"],
                row["question"],
                row["language"],
                row["solution"],
                seed=seed,
                model=settings.model,
                sampling=sampling,
                system_prompt=settings.system_prompt,
            )
            rows.append(
                {
                    "critique_id": built.request.request_id,
                    "generation_id": row["generation_id"],
                    "seed": seed,
                    "prompt": built.prompt,
                    "request_fingerprint": built.fingerprint,
                }
            )
        yield pl.DataFrame(rows, schema=CRITIQUE_REQUEST_SCHEMA)


def _shard_dir(settings: CritiqueSettings) -> str:
    key = run_key("critique", settings.model, settings.sampling.as_dict(), settings.system_prompt)
    return settings.resume.shard_path(key)


def critique_solutions(
    generations: pl.DataFrame | pl.LazyFrame, problems: pl.DataFrame, settings: CritiqueSettings
) -> dict:
    """Run the critic on this driver's chunks of candidates that are not done yet (critiques and
    their follow-up turns written shard by shard under `resume.shard_dir`); returns the manifest
    `collect_critiques` reads. Drivers split the chunks as in generation (`drivers`)."""
    _check_questions(generations, problems, settings)
    chunk_size = settings.resume.chunk_size
    follow_up_tokens = settings.judgement_follow_up.max_tokens_if_enabled

    def chat(chunk: pl.DataFrame) -> list[ChatRequest]:
        return [
            chat_request(row["critique_id"], row["prompt"], row["seed"], settings.system_prompt)
            for row in chunk.iter_rows(named=True)
        ]

    report = complete_critique_shards(
        (
            chat(chunk)
            for chunk in critique_request_chunks(generations, problems, settings, chunk_size)
        ),
        settings.sampling.config(),
        lambda: create_backend(settings.backend_config(settings.model)),
        shard_dir=_shard_dir(settings),
        chunk_size=chunk_size,
        follow_up_max_tokens=follow_up_tokens,
        drivers=settings.drivers.drivers(),
        require_complete=settings.drivers.require_complete,
        description="critique",
    )
    manifest = {
        **report.to_dict(),
        "follow_up": follow_up_tokens is not None,
        "follow_up_max_tokens": follow_up_tokens,
    }
    log_shard_report("critique", manifest)
    return manifest


def collect_critiques(
    generations: pl.DataFrame | pl.LazyFrame,
    problems: pl.DataFrame,
    shards: dict,
    settings: CritiqueSettings,
) -> Iterator[pl.DataFrame]:
    """The `critiques` table, built shard by shard (a generator of batches: no step holds all
    shards); the requests are rebuilt chunk by chunk, as `critique_solutions` built them, to find
    each critique by the fingerprint of its exact request."""
    refuse_driver_collect("critique", settings.drivers)
    critiques = ShardStore(shards["shard_dir"])
    follow_ups = (
        follow_up_store(
            shards["shard_dir"],
            shards.get("follow_up_max_tokens") or settings.judgement_follow_up.max_tokens,
        )
        if shards["follow_up"]
        else None
    )
    chunk_size = int(shards["chunk_size"])
    requests = critique_request_chunks(generations, problems, settings, chunk_size)
    batches = _critique_batches(requests, critiques, follow_ups)
    return rebatched(batches, BATCH_ROWS, CRITIQUE)


def _critique_batches(
    requests: Iterator[pl.DataFrame],
    critiques: ShardStore,
    follow_ups: ShardStore | None,
) -> Iterator[pl.DataFrame]:
    total = unparsed = from_follow_up = 0
    for index, chunk in enumerate(requests):
        judged = read_judged(critiques, follow_ups, index, chunk["critique_id"].to_list())
        batch = conform(
            [
                {
                    "generation_id": row["generation_id"],
                    "critic_model": item.completion.model,
                    "critique": item.completion.text,
                    "critique_reasoning": item.reasoning,
                    "judgement": item.judgement,
                    "judgement_source": item.source,
                    "request_fingerprint": row["request_fingerprint"],
                }
                for row, item in zip(chunk.iter_rows(named=True), judged, strict=True)
            ],
            CRITIQUE,
        )
        total += batch.height
        unparsed += batch["judgement"].null_count()
        from_follow_up += (batch["judgement_source"] == "follow_up").sum()
        yield batch
    logger.info(
        "%d critiques, %d without a parseable judgement (kept with judgement = null); "
        "%d judgements came from the follow-up turn",
        total,
        unparsed,
        from_follow_up,
    )


def summarize_critiques(critiques: pl.LazyFrame | pl.DataFrame) -> dict[str, dict[str, float]]:
    """Judgement distribution and parse rate, for MLflow (aggregated on the two narrow columns)."""
    counts = (
        critiques.lazy()
        .select(
            pl.len().alias("critiques"),
            (pl.col("judgement") == "right").sum().alias("right"),
            (pl.col("judgement") == "wrong").sum().alias("wrong"),
            pl.col("judgement").null_count().alias("unparsed"),
            (pl.col("judgement_source") == "follow_up").sum().alias("follow_up"),
        )
        .collect()
        .row(0, named=True)
    )
    counts = {name: float(value) for name, value in counts.items()}
    total = counts["critiques"]
    counts["parse_rate"] = (total - counts["unparsed"]) / total if total else 0.0
    return {name: {"value": value, "step": 0} for name, value in counts.items()}
