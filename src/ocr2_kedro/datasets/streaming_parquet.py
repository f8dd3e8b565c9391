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
frame before writing it, which is what this class exists to avoid. `StreamingNdjsonDataset` is
the same for JSONL (the per-language export for readers without parquet).
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

# polars' streaming parquet reader fetches at least 16 row groups ahead by default; at 2,000 rows of
# tens of KB a row group is ~60 MB, so a scan of an export held ~1 GB in read-ahead alone, and a
# sink slower than the reader (sink_ndjson) let it grow with the file. One row group ahead keeps a
# scan flat at no measurable cost on a local disk (benchmarks/scale.py, split at 20K -> 100K rows:
# 0.76 -> 1.55 GB peak with 4 ahead, 0.69 -> 0.78 GB with 1; export 1.01 -> 0.99 GB at 20K).
# Set by the project's streaming tables for the whole process; an explicit setting wins (a slow
# network filesystem may want more).
os.environ.setdefault("POLARS_ROW_GROUP_PREFETCH_SIZE", "1")


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
        try:
            self._write(data, partial)
            os.replace(partial, final)
        finally:
            partial.unlink(missing_ok=True)
            # A generator the writer stopped reading (an error) cleans up now, not at collection.
            close = getattr(data, "close", None)
            if callable(close) and not isinstance(data, pl.LazyFrame | pl.DataFrame):
                close()
        self._invalidate_cache()

    def _write(
        self, data: pl.LazyFrame | pl.DataFrame | Iterable[pl.DataFrame], path: Path
    ) -> None:
        row_group_size = int(self._save_args.get("row_group_size") or DEFAULT_ROW_GROUP_SIZE)
        compression = self._save_args.get("compression", "zstd")
        if isinstance(data, pl.LazyFrame):
            data.sink_parquet(
                path, row_group_size=row_group_size, compression=compression, engine="streaming"
            )
        elif isinstance(data, pl.DataFrame):
            data.write_parquet(path, row_group_size=row_group_size, compression=compression)
        else:
            write_batches(data, path, row_group_size, compression)


class StreamingNdjsonDataset(StreamingParquetDataset):
    """The same, as newline-delimited JSON (one object per row): a LazyFrame is sunk with
    `sink_ndjson`, batches are appended line by line, and loading returns `pl.scan_ndjson`.

    Either way the writer holds what polars' streaming engine buffers ahead (a bounded number of
    morsels, not the table): measured on a 100K-row OCR-2-sized export, 1.35 GB peak with
    `sink_ndjson`, 1.48 GB with `collect_batches` + `write_ndjson` per batch."""

    DEFAULT_SAVE_ARGS: dict[str, Any] = {}

    def __init__(self, *, filepath: str, **kwargs: Any) -> None:
        file_format = kwargs.pop("file_format", "ndjson")
        if file_format != "ndjson":
            raise DatasetError(f"StreamingNdjsonDataset writes ndjson only, got {file_format!r}")
        super().__init__(filepath=filepath, **kwargs)
        self._file_format = "ndjson"  # the base class loads with pl.scan_<format>

    def _write(
        self, data: pl.LazyFrame | pl.DataFrame | Iterable[pl.DataFrame], path: Path
    ) -> None:
        if isinstance(data, pl.LazyFrame):
            data.sink_ndjson(path, engine="streaming")
        elif isinstance(data, pl.DataFrame):
            data.write_ndjson(path)
        else:
            written = False
            with path.open("wb") as handle:
                for batch in data:
                    if not isinstance(batch, pl.DataFrame):
                        raise DatasetError(
                            f"expected polars DataFrame batches, got {type(batch).__name__}"
                        )
                    batch.write_ndjson(handle)
                    written = True
                    del batch  # free it before the producer makes the next one
            if not written:
                raise DatasetError(
                    "no batch to write: yield an empty DataFrame when there are no rows"
                )


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
            # Free this batch before the producer makes the next one.
            del batch, table
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise DatasetError(
            "no batch to write: yield an empty DataFrame with the table's schema when there are "
            "no rows"
        )
    return rows
