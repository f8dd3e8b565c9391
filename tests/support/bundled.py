"""The bundled questions through the real ingestion nodes, for tests of later stages."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ocr2_kedro.parameters.ingestion import BenchmarkPool, SourceSettings
from ocr2_kedro.pipelines.ingestion.nodes import normalize_source, split_benchmark_pool
from ocr2_kedro.sources.readers import RecordSource

BUNDLED = Path(__file__).resolve().parents[2] / "data/01_raw/bundled/problems.jsonl"
# conf/base's bundled source, and its test split as the only benchmark pool.
BUNDLED_SOURCE = SourceSettings(name="bundled", kind="problems", enabled=True, limit=None)
BUNDLED_POOLS = [BenchmarkPool(source="bundled", split="test")]


def bundled_problems(path: Path = BUNDLED) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(problems, rejects) of a JSONL file in the PROBLEM contract."""
    return normalize_source(RecordSource(path=str(path)), BUNDLED_SOURCE)


def bundled_pools() -> tuple[pl.DataFrame, pl.DataFrame]:
    """(training pool, benchmark pool) of the bundled questions."""
    train, benchmark, _ = split_benchmark_pool(bundled_problems()[0], BUNDLED_POOLS)
    return train, benchmark
