"""Verify nodes: run each generated solution against its question's unit tests in the sandbox."""

from __future__ import annotations

import polars as pl

from ocr2_kedro.execution import verify_frame


def verify_generations(
    generations: pl.DataFrame, problems: pl.DataFrame, params: dict
) -> pl.DataFrame:
    return verify_frame(generations, problems, workers=int(params.get("workers", 1)))
