import json

import polars as pl
import pyarrow.parquet as pq
import pytest
from kedro.io.core import DatasetError, Version

from ocr2_kedro.datasets import StreamingParquetDataset
from ocr2_kedro.datasets.streaming_parquet import StreamingNdjsonDataset


def frame(start: int, rows: int) -> pl.DataFrame:
    return pl.DataFrame({"id": list(range(start, start + rows)), "text": ["x" * 10] * rows})


def written_file(tmp_path) -> str:
    (path,) = [p for p in tmp_path.rglob("*.parquet") if p.is_file()]
    return str(path)


def test_lazy_frame_is_sunk_in_row_groups_and_loads_lazily(tmp_path):
    dataset = StreamingParquetDataset(
        filepath=str(tmp_path / "t.parquet"), save_args={"row_group_size": 100}
    )
    dataset.save(frame(0, 1000).lazy().filter(pl.col("id") % 2 == 0))
    loaded = dataset.load()
    assert isinstance(loaded, pl.LazyFrame)
    assert loaded.collect()["id"].to_list() == list(range(0, 1000, 2))
    assert pq.ParquetFile(written_file(tmp_path)).metadata.num_row_groups == 5


def test_batches_are_written_one_at_a_time_into_one_versioned_table(tmp_path):
    dataset = StreamingParquetDataset(
        filepath=str(tmp_path / "t.parquet"), version=Version(None, None)
    )
    dataset.save(frame(i * 10, 10) for i in range(3))
    assert dataset.load().collect()["id"].to_list() == list(range(30))
    metadata = pq.ParquetFile(written_file(tmp_path)).metadata
    assert metadata.num_rows == 30 and metadata.num_row_groups == 3


def test_a_failed_save_leaves_no_table_behind(tmp_path):
    dataset = StreamingParquetDataset(filepath=str(tmp_path / "t.parquet"))

    def batches():
        yield frame(0, 10)
        raise RuntimeError("driver killed")

    with pytest.raises(DatasetError, match="driver killed"):
        dataset.save(batches())
    assert not list(tmp_path.iterdir())
    with pytest.raises(DatasetError, match="empty DataFrame with the table's schema"):
        dataset.save(iter([]))
    assert not dataset.exists()


def test_refuses_other_formats(tmp_path):
    with pytest.raises(DatasetError, match="parquet only"):
        StreamingParquetDataset(filepath=str(tmp_path / "t.csv"), file_format="csv")


def test_a_failed_write_closes_the_batch_generator(tmp_path):
    closed = []

    def batches():
        try:
            yield frame(0, 10)
            yield pl.DataFrame({"other": [1]})  # not the table's schema
        finally:
            closed.append(True)

    dataset = StreamingParquetDataset(filepath=str(tmp_path / "t.parquet"))
    generator = batches()
    with pytest.raises(DatasetError):
        dataset.save(generator)
    assert closed == [True]


def test_ndjson_is_written_batch_by_batch_from_a_lazy_frame_or_batches(tmp_path):
    dataset = StreamingNdjsonDataset(
        filepath=str(tmp_path / "t.jsonl"), version=Version(None, None)
    )
    # More rows than one batch: every batch lands, in order.
    dataset.save(frame(0, 5_000).lazy().filter(pl.col("id") % 2 == 0))
    loaded = dataset.load()
    assert isinstance(loaded, pl.LazyFrame)
    assert loaded.collect()["id"].to_list() == list(range(0, 5_000, 2))

    empty = StreamingNdjsonDataset(filepath=str(tmp_path / "e.jsonl"))
    empty.save(frame(0, 10).lazy().filter(pl.col("id") < 0))
    assert (tmp_path / "e.jsonl").read_text() == ""

    batches = StreamingNdjsonDataset(filepath=str(tmp_path / "b.jsonl"))
    batches.save(frame(i * 3, 3) for i in range(3))
    lines = (tmp_path / "b.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == list(range(9))
    with pytest.raises(DatasetError, match="no batch to write"):
        batches.save(iter([]))
    with pytest.raises(DatasetError, match="ndjson only"):
        StreamingNdjsonDataset(filepath=str(tmp_path / "t.csv"), file_format="csv")


def test_an_optional_report_loads_as_none_until_written(tmp_path):
    from ocr2_kedro.datasets import OptionalJSONDataset

    report = OptionalJSONDataset(
        filepath=str(tmp_path / "summary.json"), version=Version(None, None)
    )
    assert report.load() is None
    report.save({"traces": 4})
    reloaded = OptionalJSONDataset(
        filepath=str(tmp_path / "summary.json"), version=Version(None, None)
    )
    assert reloaded.load() == {"traces": 4}
    # A report that exists but is broken is an error, not "no report".
    [written] = (tmp_path / "summary.json").glob("*/summary.json")
    written.write_text("{not json")
    with pytest.raises(DatasetError):
        OptionalJSONDataset(
            filepath=str(tmp_path / "summary.json"), version=Version(None, None)
        ).load()
