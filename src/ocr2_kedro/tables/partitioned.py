"""A partitioned (Grace) hash join: two or more tables joined on one key in bounded memory.

An ordinary hash join holds one side whole (generations and critiques at 2.5M rows are tens of GB).
Here every input is first streamed to disk in `buckets` parts by a hash of the key (polars' streaming
sink with `pl.PartitionBy`, one row group per ~`spill_rows` rows, so the sink buffers little per
bucket); rows with equal keys land in the same bucket on every side, so joining bucket by bucket
gives the same rows as one join. Only one bucket of every input is in memory at a time.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import polars as pl

BUCKET_COLUMN = "_bucket"
# Rows read to estimate an input's in-memory bytes per row.
SAMPLE_ROWS = 1_000
# The bucket files are temporary: fast compression.
SPILL_COMPRESSION = "lz4"
# What the open row groups of all buckets may hold together while an input is spilled.
SPILL_BYTES = 64 << 20


def row_bytes(frame: pl.LazyFrame | pl.DataFrame, sample_rows: int = SAMPLE_ROWS) -> int:
    """Estimated in-memory bytes per row of `frame`, from its first `sample_rows` rows."""
    sample = frame.lazy().head(sample_rows).collect(engine="streaming")
    return math.ceil(sample.estimated_size() / max(1, sample.height))


def frame_size(
    frame: pl.LazyFrame | pl.DataFrame, sample_rows: int = SAMPLE_ROWS
) -> tuple[int, int]:
    """(rows, estimated in-memory bytes per row) of `frame`, without loading it: the rows come from
    a streaming count, the bytes per row from its first `sample_rows` rows."""
    rows = frame.lazy().select(pl.len()).collect(engine="streaming").item()
    return rows, (row_bytes(frame, sample_rows) if rows else 0)


def bucket_count(frames: Sequence[pl.LazyFrame | pl.DataFrame], bucket_bytes: int) -> int:
    """The number of buckets that keeps one bucket of all `frames` together under `bucket_bytes`."""
    if bucket_bytes <= 0:
        raise ValueError(f"bucket_bytes must be positive, got {bucket_bytes}")
    total = 0
    for frame in frames:
        rows, row_bytes = frame_size(frame)
        total += rows * row_bytes
    return max(1, math.ceil(total / bucket_bytes))


def _bucket_of(on: str, buckets: int) -> pl.Expr:
    # Null keys hash to a fixed value in polars; fill_null keeps them in a bucket regardless.
    return (pl.col(on).hash(seed=0) % buckets).fill_null(0).cast(pl.UInt32).alias(BUCKET_COLUMN)


def spill(
    frame: pl.LazyFrame, on: str, buckets: int, folder: Path, spill_rows: int = 2_000
) -> None:
    """Stream `frame` into `folder/_bucket=<i>/*.parquet`, one folder per non-empty bucket."""
    frame.sink_parquet(
        pl.PartitionBy(folder, key=_bucket_of(on, buckets), include_key=False),
        row_group_size=max(1, spill_rows),
        compression=SPILL_COMPRESSION,
        mkdir=True,
        engine="streaming",
    )


def _read_bucket(folder: Path, bucket: int, schema: pl.Schema) -> pl.LazyFrame:
    part = folder / f"{BUCKET_COLUMN}={bucket}"
    if not part.is_dir():
        return pl.LazyFrame(schema=schema)
    return pl.scan_parquet(part / "*.parquet", hive_partitioning=False, schema=schema)


def partitioned_join(
    left: pl.LazyFrame | pl.DataFrame,
    right: pl.LazyFrame | pl.DataFrame | Sequence[pl.LazyFrame | pl.DataFrame],
    on: str,
    *,
    buckets: int,
    work_dir: str | Path | None = None,
    how: str = "left",
    finish: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None,
    spill_bytes: int = SPILL_BYTES,
) -> Iterator[pl.DataFrame]:
    """`left.join(r, on=on, how=how)` for each `r` in `right` (in order), one bucket at a time.

    Yields one DataFrame per non-empty bucket (`finish(joined)` when given: narrow joins, column
    selection, a sort within the bucket), or one empty frame with the result's schema when no bucket
    has rows. The rows are those of the ordinary join (duplicate keys, unmatched and null keys
    included, as polars joins them); their order is by bucket, then whatever `finish` sorts by.

    With `buckets == 1` nothing is spilled: the inputs are joined as they are. Otherwise each input
    is streamed to bucket files in a fresh folder under `work_dir` (the system temp folder when
    None), in row groups small enough that the open groups of all buckets together hold about
    `spill_bytes`; the folder is removed when the iteration ends, fails or is abandoned. Validation
    runs at the call; the work runs as the result is iterated.
    """
    if buckets < 1:
        raise ValueError(f"buckets must be at least 1, got {buckets}")
    rights = [right] if isinstance(right, pl.LazyFrame | pl.DataFrame) else list(right)
    if not rights:
        raise ValueError("partitioned_join needs at least one right table")
    sides = [left.lazy(), *(r.lazy() for r in rights)]
    for index, side in enumerate(sides):
        if on not in side.collect_schema():
            raise ValueError(f"join key {on!r} is not a column of input {index}")
    finish = finish or (lambda frame: frame)

    def join(parts: list[pl.LazyFrame]) -> pl.LazyFrame:
        joined = parts[0]
        for part in parts[1:]:
            joined = joined.join(part, on=on, how=how)
        return finish(joined)

    return _join_buckets(sides, join, on, buckets, work_dir, spill_bytes)


def _join_buckets(
    sides: list[pl.LazyFrame],
    join: Callable[[list[pl.LazyFrame]], pl.LazyFrame],
    on: str,
    buckets: int,
    work_dir: str | Path | None,
    spill_bytes: int,
) -> Iterator[pl.DataFrame]:
    if buckets == 1:
        yield join(sides).collect(engine="streaming")
        return
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="partitioned-join-", dir=work_dir))
    try:
        schemas = [side.collect_schema() for side in sides]
        folders = [root / f"side-{index}" for index in range(len(sides))]
        for side, folder in zip(sides, folders, strict=True):
            # The sink keeps one open row group per bucket: few rows per group with many buckets.
            rows = max(16, min(2_000, spill_bytes // max(1, buckets * row_bytes(side))))
            spill(side, on, buckets, folder, rows)
        yielded = False
        empty = None
        for bucket in range(buckets):
            parts = [
                _read_bucket(folder, bucket, schema)
                for folder, schema in zip(folders, schemas, strict=True)
            ]
            result = join(parts).collect(engine="streaming")
            if result.height:
                yielded = True
                yield result
            elif empty is None:
                empty = result.clear()
            # Let the bucket go before the next one is read (the consumer has written it).
            del result
        if not yielded:  # the result's schema still reaches the writer
            yield empty
    finally:
        shutil.rmtree(root, ignore_errors=True)
