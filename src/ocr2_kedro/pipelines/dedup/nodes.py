"""Dedup nodes: drop exact duplicates (normalized statement text), keeping the first by source priority."""

from __future__ import annotations

import logging
import re

import polars as pl

logger = logging.getLogger(__name__)


def normalize_statement(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def drop_exact_duplicates(problems: pl.DataFrame, source_priority: list[str]) -> pl.DataFrame:
    rank = {source: i for i, source in enumerate(source_priority)}
    deduped = (
        problems.with_columns(
            pl.col("question")
            .map_elements(normalize_statement, return_dtype=pl.String)
            .alias("_norm"),
            pl.col("source")
            .replace_strict(rank, default=len(rank), return_dtype=pl.Int64)
            .alias("_rank"),
        )
        .sort("_rank", "question_id")
        .unique(subset="_norm", keep="first", maintain_order=True)
        .drop("_norm", "_rank")
    )
    logger.info("exact dedup: %d -> %d problems", problems.height, deduped.height)
    return deduped
