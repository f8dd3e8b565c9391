"""Verify nodes: run each generated solution against its question's unit tests in the sandbox."""

from __future__ import annotations

import logging

import mlflow
import polars as pl

from ocr2_kedro.execution import verify_frame

log = logging.getLogger(__name__)

SETTING_KEYS = (
    "compare_mode",
    "time_limit_s",
    "memory_limit_mb",
    "default_time_limit_s",
    "default_memory_limit_mb",
    "time_limit_factor",
    "max_tests",
    "cache_dir",
    "use_pch",
)


def verify_generations(
    generations: pl.DataFrame, problems: pl.DataFrame, params: dict
) -> pl.DataFrame:
    """Judge every generation in the sandbox (parameters_verify.yml picks workers, limits, backend)."""
    settings = {key: params[key] for key in SETTING_KEYS if params.get(key) is not None}
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
