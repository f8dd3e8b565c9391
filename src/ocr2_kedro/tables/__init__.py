"""Bounded-memory table operations over polars (no Kedro): a partitioned hash join and statistics
from value counts, for tables too large to hold whole."""

from .counts import histogram_bins, quantile_nearest, summary, value_counts
from .partitioned import bucket_count, frame_size, partitioned_join

__all__ = [
    "bucket_count",
    "frame_size",
    "histogram_bins",
    "partitioned_join",
    "quantile_nearest",
    "summary",
    "value_counts",
]
