"""RecordSource: lazy, streaming reads of local parquet/JSONL files and of `datasets` builders."""

import polars as pl
import pytest

from ocr2_kedro.sources.readers import RecordSource, SourceNotFoundError


def test_local_files_stream_with_their_split_and_row_index(tmp_path):
    pl.DataFrame({"x": [1, 2, 3]}).write_parquet(tmp_path / "train-00000-of-00001.parquet")
    pl.DataFrame({"x": [10, 20]}).write_ndjson(tmp_path / "test-00000-of-00001.jsonl")
    source = RecordSource(path=str(tmp_path), splits=("train", "test"), batch_size=2)
    assert sorted(source.iter_records()) == [
        ("test", 0, {"x": 10}),
        ("test", 1, {"x": 20}),
        ("train", 0, {"x": 1}),
        ("train", 1, {"x": 2}),
        ("train", 2, {"x": 3}),
    ]


def test_a_missing_source_is_lazy_and_then_says_what_to_do(tmp_path):
    source = RecordSource(path=str(tmp_path / "taco"))  # constructing reads nothing
    with pytest.raises(SourceNotFoundError, match="huggingface-cli download"):
        next(source.iter_records())


def test_exactly_one_location():
    with pytest.raises(ValueError, match="exactly one"):
        RecordSource(path="a", hub_id="b")
    with pytest.raises(ValueError, match="exactly one"):
        RecordSource()


def test_datasets_builders_stream_through_the_hub_code_path(tmp_path):
    # The `json` builder runs the same load_dataset(..., streaming=True) path as a hub id, offline.
    pl.DataFrame({"q": ["a", "b"]}).write_ndjson(tmp_path / "rows.jsonl")
    source = RecordSource(
        hub_id="json", data_files={"valid": str(tmp_path / "rows.jsonl")}, splits=("valid",)
    )
    assert list(source.iter_records()) == [("valid", 0, {"q": "a"}), ("valid", 1, {"q": "b"})]
