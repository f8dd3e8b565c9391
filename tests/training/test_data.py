"""Tokenized SFT data on disk: the same tokens as tokenize_example row by row, reuse without tokenizing."""

from __future__ import annotations

import polars as pl
import pytest
from transformers import AutoTokenizer

from ocr2_kedro.training import (
    IGNORE_INDEX,
    build_examples,
    examples_from_frame,
    token_totals,
    tokenize_examples,
    tokenize_to_disk,
)
from ocr2_kedro.training import data as data_module


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture
def stage2_examples(export_rows, tmp_path) -> pl.LazyFrame:
    """Stage-2 examples of the fixture export, saved as parquet and scanned (as the catalog loads them)."""
    frame = pl.concat(list(build_examples(pl.DataFrame(export_rows)).stage2))
    path = tmp_path / "stage2_examples.parquet"
    frame.write_parquet(path, row_group_size=2)
    return pl.scan_parquet(path)


def _skip_threshold(tokenizer, examples, max_length: int = 4096) -> int:
    """A max_length at which some examples' prompts fill it and others still have tokens to train."""
    rows, _ = tokenize_examples(tokenizer, examples, max_length)
    prompts = sorted(sum(label == IGNORE_INDEX for label in row["labels"]) for row in rows)
    assert prompts[0] < prompts[-1]
    return prompts[-1]


def test_tokenized_dataset_equals_tokenize_example_row_by_row(
    tiny_model_dir, tokenizer, stage2_examples, tmp_path
):
    examples = examples_from_frame(stage2_examples.collect())
    max_length = _skip_threshold(tokenizer, examples)
    expected, expected_skipped = tokenize_examples(tokenizer, examples, max_length)
    assert expected and expected_skipped  # both cases present

    # Two processes, two examples per call: the parallel map path, several shards.
    info = tokenize_to_disk(
        stage2_examples,
        tiny_model_dir,
        tmp_path / "tokenized",
        max_length,
        num_proc=2,
        batch_size=2,
    )
    assert info.num_proc == 2 and not info.reused
    dataset = info.load()
    assert dataset.cache_files  # memory-mapped from the saved files, not held in memory
    assert dataset.column_names == ["id", "kind", "content_key", "input_ids", "labels"]
    assert dataset.select_columns(["id", "kind", "input_ids", "labels"]).to_list() == [
        {key: row[key] for key in ("id", "kind", "input_ids", "labels")} for row in expected
    ]
    assert len(set(dataset["content_key"])) == len(dataset)
    skipped = info.skipped_examples()
    assert skipped == expected_skipped
    assert info.skipped == len(expected_skipped)
    assert info.examples == len(expected)
    assert info.critique_examples == sum(row["kind"] == "critique" for row in expected)
    assert info.train_tokens == sum(len(row["input_ids"]) for row in expected)
    assert info.trained_tokens == sum(
        sum(label != IGNORE_INDEX for label in row["labels"]) for row in expected
    )


def test_a_finished_tokenization_is_reused_without_tokenizing(
    tiny_model_dir, stage2_examples, tmp_path, monkeypatch
):
    root = tmp_path / "tokenized"
    first = tokenize_to_disk(stage2_examples, tiny_model_dir, root, 256, num_proc=1)
    shards = sorted((root / first.fingerprint / "dataset").glob("*.arrow"))
    mtimes = [path.stat().st_mtime_ns for path in shards]

    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        raise AssertionError("tokenized again")

    monkeypatch.setattr(data_module, "_tokenize_batch", counting)
    again = tokenize_to_disk(stage2_examples, tiny_model_dir, root, 256, num_proc=1)
    assert again.reused and calls == []
    assert {**again.to_dict(), "reused": False} == first.to_dict()
    assert [path.stat().st_mtime_ns for path in shards] == mtimes
    # The same examples as one-shot batches (hashed while written) find the same folder.
    batches = iter([stage2_examples.collect()])
    assert tokenize_to_disk(batches, tiny_model_dir, root, 256).fingerprint == first.fingerprint
    assert calls == []

    # Another max_length or other examples: another folder, tokenized.
    monkeypatch.undo()
    other = tokenize_to_disk(stage2_examples, tiny_model_dir, root, 200, num_proc=1)
    assert not other.reused and other.fingerprint != first.fingerprint
    fewer = tokenize_to_disk(stage2_examples.head(2), tiny_model_dir, root, 256, num_proc=1)
    assert not fewer.reused and fewer.fingerprint != first.fingerprint
    # Only complete folders count: one without its summary (a killed run) is built again.
    (root / first.fingerprint / data_module.INFO_FILE).unlink()
    (root / "0123abcd.999999999.partial").mkdir()  # left by a run whose process is gone
    rebuilt = tokenize_to_disk(stage2_examples, tiny_model_dir, root, 256, num_proc=1)
    assert not rebuilt.reused and rebuilt.fingerprint == first.fingerprint
    assert not list(root.glob("*.partial"))


def test_stage2_takes_the_stage1_rows_and_tokenizes_only_the_rest(
    tiny_model_dir, export_rows, stage2_examples, tmp_path, monkeypatch
):
    stage1 = pl.concat(list(build_examples(pl.DataFrame(export_rows)).stage1))
    root = tmp_path / "tokenized"
    max_length = 256
    first = tokenize_to_disk(stage1, tiny_model_dir, root, max_length, num_proc=1)
    assert first.lent_rows == 0 and first.lent_from is None

    tokenized_ids = []
    tokenize_batch = data_module._tokenize_batch

    def counting(batch, **kwargs):
        tokenized_ids.extend(batch["id"])
        return tokenize_batch(batch, **kwargs)

    monkeypatch.setattr(data_module, "_tokenize_batch", counting)
    second = tokenize_to_disk(stage2_examples, tiny_model_dir, root, max_length, num_proc=1)
    stage2 = stage2_examples.collect()
    critiques = stage2.filter(pl.col("kind") == "critique")
    # Every stage-1 example that was kept is lent; only critiques (and skipped ones) are tokenized.
    assert second.lent_from == first.fingerprint and second.lent_rows == first.examples
    assert len(tokenized_ids) == stage2.height - first.examples >= critiques.height > 0

    # The same rows, in the same order, as tokenizing stage 2 from nothing.
    monkeypatch.undo()
    alone = tokenize_to_disk(stage2_examples, tiny_model_dir, tmp_path / "alone", max_length)
    assert alone.lent_rows == 0 and alone.fingerprint == second.fingerprint
    assert second.load().to_list() == alone.load().to_list()
    assert second.skipped_examples() == alone.skipped_examples()
    summary = {"lent_rows", "lent_from", "path", "skipped_path", "num_proc"}
    assert {k: v for k, v in second.to_dict().items() if k not in summary} == {
        k: v for k, v in alone.to_dict().items() if k not in summary
    }
    # Another max_length lends nothing.
    other = tokenize_to_disk(stage2_examples, tiny_model_dir, root, max_length - 1, num_proc=1)
    assert other.lent_rows == 0


def test_no_examples_gives_an_empty_dataset(tiny_model_dir, tmp_path):
    empty = pl.concat(list(build_examples(pl.DataFrame(schema={"id": pl.String})).stage1))
    info = tokenize_to_disk(empty, tiny_model_dir, tmp_path / "tokenized", 128)
    assert info.examples == 0 and info.skipped == 0 and len(info.load()) == 0


def test_token_totals_sum_arrow_batches():
    from datasets import Dataset

    dataset = Dataset.from_dict(
        {
            "input_ids": [[1, 2, 3], [4], [5, 6]],
            "labels": [[-100, 2, 3], [-100], [5, 6]],
            "kind": ["generation", "critique", "critique"],
        }
    )
    assert token_totals(dataset, batch_rows=2) == {
        "rows": 3,
        "tokens": 6,
        "trained_tokens": 4,
        "critique_rows": 2,
    }
