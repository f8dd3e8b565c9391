"""Statistics of a column from its value counts.

A streaming `group_by(value).len()` over a column with few distinct values (token counts, verdicts)
holds one row per distinct value, whatever the number of rows; the summaries below (count, mean,
exact quantiles, histogram bins) come from that small table.
"""

from __future__ import annotations

import math

import polars as pl


def value_counts(
    frame: pl.LazyFrame | pl.DataFrame, value: str, by: list[str] | tuple[str, ...] = ()
) -> pl.DataFrame:
    """`(*by, value, count)` of the non-null `value`s of `frame`, by a streaming aggregation."""
    return (
        frame.lazy()
        .select(*by, value)
        .drop_nulls(value)
        .group_by(*by, value)
        .agg(pl.len().alias("count"))
        .sort(*by, value)
        .collect(engine="streaming")
    )


def quantile_nearest(counts: pl.DataFrame, value: str, quantile: float) -> float | None:
    """The quantile that `Series.quantile(quantile, "nearest")` gives over the values that
    `counts` (value, count; sorted or not) stands for: the value at rank round(q * (n - 1))."""
    ordered = counts.sort(value)
    n = int(ordered["count"].sum())
    if n == 0:
        return None
    # Half away from zero, as Rust's f64::round in polars.
    rank = math.floor(quantile * (n - 1) + 0.5)
    cumulative = ordered["count"].cum_sum()
    position = int((cumulative <= rank).sum())
    return float(ordered[value][position])


def summary(counts: pl.DataFrame, value: str) -> dict[str, float]:
    """n, mean, p50, p90 and max of the values `counts` (value, count) stands for; `{"n": 0}` when
    there are none."""
    n = int(counts["count"].sum()) if counts.height else 0
    if n == 0:
        return {"n": 0}
    total = (counts[value].cast(pl.Float64) * counts["count"]).sum()
    return {
        "n": n,
        "mean": float(total / n),
        "p50": quantile_nearest(counts, value, 0.5),
        "p90": quantile_nearest(counts, value, 0.9),
        "max": float(counts[value].max()),
    }


def histogram_bins(
    counts: pl.DataFrame, value: str, by: str, max_bins: int = 50
) -> tuple[float, float, dict[object, pl.DataFrame]]:
    """Shared bins over all groups of `counts` (by, value, count): (start, width, per group a frame
    of bin start and count). Integer-valued columns get integer widths, so every bin holds whole
    values."""
    if counts.height == 0:
        return 0.0, 1.0, {}
    low, high = float(counts[value].min()), float(counts[value].max())
    integer = counts.schema[value].is_integer()
    span = high - low + (1 if integer else 0)
    width = span / max_bins if span > 0 else 1.0
    if integer:
        width = float(max(1, math.ceil(width)))
    binned = (
        counts.with_columns(
            ((pl.col(value) - low) / width)
            .floor()
            .clip(upper_bound=max_bins - 1)
            .mul(width)
            .add(low)
            .alias("bin_start")
        )
        .group_by(by, "bin_start")
        .agg(pl.col("count").sum())
        .sort(by, "bin_start")
    )
    groups = {key[0]: part for key, part in binned.group_by(by, maintain_order=True)}
    return low, width, groups
