"""RecordSource: lazy, streaming reads of local parquet/JSONL files and of `datasets` builders."""

import polars as pl
import pytest

from ocr2_kedro.sources.readers import RecordSource, SourceNotFoundError, UnreadableRecord


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


def test_an_unreadable_line_is_named_and_the_rest_is_read(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_bytes(
        b'{"q": "a"}\n'
        b'{"q": "trunc\n'  # a truncated line
        b"\n"  # blank lines are not records
        b"[1, 2]\n"  # JSON, not an object
        b'{"q": "\xff"}\n'  # not UTF-8
        b'{"q": "b"}\n'
    )
    records = list(RecordSource(path=str(path)).iter_records())
    assert [(split, index) for split, index, _ in records] == [("train", i) for i in range(5)]
    assert records[0][2] == {"q": "a"} and records[4][2] == {"q": "b"}
    unreadable = [record for _, _, record in records[1:4]]
    assert all(isinstance(record, UnreadableRecord) for record in unreadable)
    assert [record.where for record in unreadable] == [f"{path}:2", f"{path}:4", f"{path}:5"]
    assert {record.reason for record in unreadable} == {"unreadable_line"}
    assert "not JSON" in unreadable[0].error and "not an object" in unreadable[1].error


def test_an_unreadable_parquet_file_is_one_record_naming_it(tmp_path):
    pl.DataFrame({"x": [1, 2]}).write_parquet(tmp_path / "train-00000-of-00002.parquet")
    (tmp_path / "train-00001-of-00002.parquet").write_bytes(b"PAR1 not really parquet")
    records = list(RecordSource(path=str(tmp_path)).iter_records())
    assert [record for _, _, record in records[:2]] == [{"x": 1}, {"x": 2}]
    (_, _, broken), *rest = records[2:]
    assert not rest and isinstance(broken, UnreadableRecord)
    assert broken.reason == "unreadable_file" and broken.where.endswith("00001-of-00002.parquet")


def test_a_pinned_hub_revision_is_passed_and_the_resolved_commit_recorded(tmp_path, monkeypatch):
    """The hub itself is replaced (offline): `datasets.load_dataset_builder` builds the real `json`
    builder and reports, as it does for a hub repository, the repo and the commit it resolved."""
    import datasets

    pl.DataFrame({"q": ["a", "b"]}).write_ndjson(tmp_path / "rows.jsonl")
    real = datasets.load_dataset_builder
    asked = {}

    def hub_builder(path, name=None, revision=None, **kwargs):
        asked.update(path=path, revision=revision)
        builder = real("json", name, **kwargs)
        builder.repo_id, builder.hash = "org/questions", "c0ffee" * 6 + "c0ff"
        return builder

    monkeypatch.setattr(datasets, "load_dataset_builder", hub_builder)
    source = RecordSource(
        hub_id="org/questions",
        revision="v1.0",
        data_files={"test": str(tmp_path / "rows.jsonl")},
        splits=("test",),
    )
    assert source.provenance()["resolved_commit"] is None  # nothing read yet
    assert [record for _, _, record in source.iter_records()] == [{"q": "a"}, {"q": "b"}]
    assert asked == {"path": "org/questions", "revision": "v1.0"}
    assert source.provenance() == {
        "location": "hf://org/questions",
        "revision": "v1.0",
        "resolved_commit": "c0ffee" * 6 + "c0ff",
    }
    # A local builder reports no commit (its hash is not one), and nothing is invented.
    monkeypatch.setattr(datasets, "load_dataset_builder", real)
    local = RecordSource(
        hub_id="json", data_files={"test": str(tmp_path / "rows.jsonl")}, splits=("test",)
    )
    list(local.iter_records())
    assert local.provenance()["resolved_commit"] is None


def test_gzipped_json_lines_are_read_and_a_broken_stream_is_one_record_naming_the_file(tmp_path):
    import gzip

    whole = gzip.compress(b'{"q": "a"}\nnot json\n{"q": "b"}\n' + b'{"q": "c"}\n' * 2000)
    (tmp_path / "test.jsonl.gz").write_bytes(whole)
    (tmp_path / "notes.txt.gz").write_bytes(gzip.compress(b"not a source file"))
    records = [record for _, _, record in RecordSource(path=str(tmp_path)).iter_records()]
    assert records[0] == {"q": "a"} and records[2] == {"q": "b"} and len(records) == 2003
    assert isinstance(records[1], UnreadableRecord) and records[1].reason == "unreadable_line"

    (tmp_path / "test.jsonl.gz").write_bytes(whole[: len(whole) // 2])  # truncated download
    records = [record for _, _, record in RecordSource(path=str(tmp_path)).iter_records()]
    *read, broken = records
    assert read[0] == {"q": "a"} and all(r == {"q": "c"} for r in read[3:])
    assert isinstance(broken, UnreadableRecord) and broken.reason == "unreadable_file"
    assert broken.where.endswith("test.jsonl.gz") and f"after {len(read)} records" in broken.error
