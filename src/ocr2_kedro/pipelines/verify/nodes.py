"""Verify nodes: run each generated solution against its question's unit tests in the sandbox."""

from __future__ import annotations

import logging

import mlflow
import polars as pl

from ocr2_kedro.execution import settings_from, verify_frame

log = logging.getLogger(__name__)


def verify_generations(
    generations: pl.DataFrame, problems: pl.DataFrame, params: dict
) -> pl.DataFrame:
    """Judge every generation in the sandbox (parameters_verify.yml picks workers, limits, backend)."""
    settings = settings_from(params)
    verifications = verify_frame(
        generations,
        problems,
        workers=int(params.get("workers", 1)),
        backend=params.get("backend", "local"),
        ray_address=params.get("ray_address"),
        ray_batch_size=int(params.get("ray_batch_size", 8)),
        progress=bool(params.get("progress", True)),
        **settings,
    )
    summary = verdict_summary(verifications)
    log.info("verify: %s", summary)
    if mlflow.active_run() is not None and summary:
        mlflow.log_metrics(summary)
    return verifications


def verdict_summary(verifications: pl.DataFrame) -> dict[str, float]:
    """Share of each verdict and the mean pass rate, for logging."""
    if verifications.height == 0:
        return {}
    counts = verifications["verdict"].value_counts()
    summary = {
        f"verify_share_{verdict}": count / verifications.height
        for verdict, count in zip(counts["verdict"], counts["count"], strict=True)
        if verdict is not None
    }
    summary["verify_mean_pass_rate"] = float(verifications["pass_rate"].mean() or 0.0)
    return summary
