"""Means over problems with their uncertainty: standard error and a seeded percentile bootstrap.

Every problem weighs the same (the LiveCodeBench convention), whatever its number of samples.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

# Resampled means held in memory at once by the bootstrap (floats), to bound it at large P.
_BOOTSTRAP_CHUNK = 4_000_000


def mean_with_stderr(values: Sequence[float]) -> tuple[float, float]:
    """Mean over problems and its standard error, sample std (ddof=1) / sqrt(P).

    The error is 0.0 for a single problem and both are NaN for none.
    """
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return float("nan"), float("nan")
    if arr.size == 1:
        return float(arr[0]), 0.0
    return float(arr.mean()), float(arr.std(ddof=1) / np.sqrt(arr.size))


def bootstrap_interval(
    values: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean over problems; the same seed gives the same
    interval. NaN bounds for no problems.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    chunk = max(1, _BOOTSTRAP_CHUNK // arr.size)
    means = np.concatenate(
        [
            arr[rng.integers(0, arr.size, size=(min(chunk, resamples - start), arr.size))].mean(1)
            for start in range(0, resamples, chunk)
        ]
    )
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)


def summarize_problem_metrics(
    rows: pl.DataFrame,
    group_by: list[str],
    metric_columns: Sequence[str] | None,
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """Long table of per-problem metrics averaged over problems: one row per (group values...,
    metric) with mean, stderr, ci_low, ci_high (95% bootstrap) and problems.

    ``rows`` holds one row per problem (and group). Null or NaN values (a k above a problem's
    sample count, an undefined precision) are left out and ``problems`` counts the rest.
    ``metric_columns`` None takes every numeric column outside ``group_by``. Groups keep their
    order of first appearance.
    """
    missing = [c for c in [*group_by, *(metric_columns or [])] if c not in rows.columns]
    if missing:
        raise ValueError(f"columns missing from the problem metrics: {missing}")
    if metric_columns is None:
        metric_columns = [c for c, t in rows.schema.items() if c not in group_by and t.is_numeric()]
    out: dict[str, list] = {
        c: [] for c in [*group_by, "metric", "mean", "stderr", "ci_low", "ci_high", "problems"]
    }
    groups = (
        rows.partition_by(group_by, maintain_order=True, as_dict=True).items()
        if group_by
        else [((), rows)]
    )
    for key, part in groups:
        for metric in metric_columns:
            values = part[metric].cast(pl.Float64).drop_nulls().drop_nans().to_numpy()
            mean, stderr = mean_with_stderr(values)
            low, high = bootstrap_interval(values, resamples=resamples, seed=seed)
            for col, value in zip(group_by, key, strict=True):
                out[col].append(value)
            out["metric"].append(metric)
            out["mean"].append(mean)
            out["stderr"].append(stderr)
            out["ci_low"].append(low)
            out["ci_high"].append(high)
            out["problems"].append(len(values))
    schema = {c: rows.schema[c] for c in group_by} | {
        "metric": pl.String,
        "mean": pl.Float64,
        "stderr": pl.Float64,
        "ci_low": pl.Float64,
        "ci_high": pl.Float64,
        "problems": pl.Int64,
    }
    return pl.DataFrame(out, schema=schema)
