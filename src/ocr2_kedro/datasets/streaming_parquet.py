"""A versioned parquet table that is written and read in bounded memory.

    generations:
      type: ocr2_kedro.datasets.StreamingParquetDataset
      filepath: data/03_primary/generations.parquet
      versioned: true

Tables that grow with the number of samples (2.5M rows of tens of KB each at paper scale) never pass
through one process whole. Loading returns a `polars.LazyFrame` (a scan: the consumer streams it,
selects the columns it needs or aggregates it). Saving takes

- a `polars.LazyFrame`: sunk with polars' streaming engine (`sink_parquet`), never collected;
- an iterable of `polars.DataFrame` batches (e.g. a generator a node returns): each batch is written
  as it comes, so only one batch is in memory at a time;
- a `polars.DataFrame` (small tables, tests).

Every file is written in row groups of `save_args.row_group_size` rows (default 2,000): polars would
otherwise write one row group per file, and a scan of such a file reads all of it at once. A save
goes to a `.partial` file first and is renamed into place, so a killed run never leaves a half table
that looks like a version. kedro-datasets' `LazyPolarsDataset` (the base class) collects a lazy
frame before writing it, which is what this class exists to avoid.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl
from kedro.io.core import DatasetError, get_filepath_str
from kedro_datasets.polars import LazyPolarsDataset

DEFAULT_ROW_GROUP_SIZE = 2_000


class StreamingParquetDataset(LazyPolarsDataset):
    DEFAULT_SAVE_ARGS: dict[str, Any] = {"row_group_size": DEFAULT_ROW_GROUP_SIZE}

    def __init__(self, *, filepath: str, **kwargs: Any) -> None:
        file_format = kwargs.pop("file_format", "parquet")
        if file_format != "parquet":
            raise DatasetError(f"StreamingParquetDataset writes parquet only, got {file_format!r}")
        super().__init__(filepath=filepath, file_format="parquet", **kwargs)
        if self._protocol != "file":
            raise DatasetError(
                "StreamingParquetDataset streams to the local (or a mounted shared) filesystem; "
                f"got {filepath}"
            )

    def save(self, data: pl.LazyFrame | pl.DataFrame | Iterable[pl.DataFrame]) -> None:
        final = Path(get_filepath_str(self._get_save_path(), self._protocol))
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(final.name + ".partial")
        row_group_size = int(self._save_args.get("row_group_size") or DEFAULT_ROW_GROUP_SIZE)
        compression = self._save_args.get("compression", "zstd")
        try:
            if isinstance(data, pl.LazyFrame):
                data.sink_parquet(
                    partial,
                    row_group_size=row_group_size,
                    compression=compression,
                    engine="streaming",
                )
            elif isinstance(data, pl.DataFrame):
                data.write_parquet(partial, row_group_size=row_group_size, compression=compression)
            else:
                write_batches(data, partial, row_group_size, compression)
            os.replace(partial, final)
        finally:
            partial.unlink(missing_ok=True)
        self._invalidate_cache()


def write_batches(
    batches: Iterable[pl.DataFrame],
    path: str | os.PathLike,
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
    compression: str = "zstd",
) -> int:
    """Write DataFrame batches to one parquet file, one batch in memory at a time; the rows written.

    Every batch must have the first batch's schema. An empty iterable is an error: a producer that
    has nothing to write yields an empty frame with its schema, so the table still has columns.
    """
    import pyarrow.parquet as pq

    writer = None
    rows = 0
    try:
        for batch in batches:
            if not isinstance(batch, pl.DataFrame):
                raise DatasetError(f"expected polars DataFrame batches, got {type(batch).__name__}")
            table = batch.to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(str(path), table.schema, compression=compression)
            elif table.schema != writer.schema:
                table = table.cast(writer.schema)
            writer.write_table(table, row_group_size=row_group_size)
            rows += batch.height
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise DatasetError(
            "no batch to write: yield an empty DataFrame with the table's schema when there are "
            "no rows"
        )
    return rows
