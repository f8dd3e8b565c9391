"""The partitioned join gives the rows of an ordinary polars join, whatever the bucket count, and
leaves no bucket files behind."""

from __future__ import annotations

import random

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ocr2_kedro.tables import bucket_count, frame_size, partitioned_join


def random_tables(seed: int, left_rows: int, right_rows: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Keys drawn from a small pool (duplicates on the right, keys only one side has) plus nulls."""
    rng = random.Random(seed)
    pool = [f"k{i}" for i in range(max(2, left_rows))]

    def key() -> str | None:
        return None if rng.random() < 0.1 else rng.choice(pool)

    left = pl.DataFrame(
        {
            "key": [key() for _ in range(left_rows)],
            "text": ["x" * rng.randint(0, 50) for _ in range(left_rows)],
            "row": list(range(left_rows)),
        },
        schema={"key": pl.String, "text": pl.String, "row": pl.Int64},
    )
    right = pl.DataFrame(
        {
            "key": [key() for _ in range(right_rows)] + ["only-right"],
            "score": [rng.random() for _ in range(right_rows + 1)],
        },
        schema={"key": pl.String, "score": pl.Float64},
    )
    return left, right


def joined(batches) -> pl.DataFrame:
    return pl.concat(list(batches))


@pytest.mark.parametrize("buckets", [1, 2, 7, 500])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_rows_as_a_left_join(tmp_path, buckets, seed):
    left, right = random_tables(seed, left_rows=60, right_rows=40)
    expected = left.join(right, on="key", how="left")
    result = joined(
        partitioned_join(left.lazy(), right.lazy(), "key", buckets=buckets, work_dir=tmp_path)
    )
    assert_frame_equal(result, expected, check_row_order=False)
    # Null keys match nothing and stay, as in the left join.
    assert result.filter(pl.col("key").is_null())["score"].is_null().all()
    assert result.filter(pl.col("key").is_null()).height == left["key"].null_count()


@pytest.mark.parametrize("buckets", [1, 3, 200])
def test_several_right_tables_and_an_inner_join(tmp_path, buckets):
    left, right = random_tables(5, left_rows=80, right_rows=50)
    _, other = random_tables(6, left_rows=80, right_rows=30)
    other = other.rename({"score": "other_score"})
    expected = left.join(right, on="key", how="left").join(other, on="key", how="left")
    result = joined(
        partitioned_join(left, [right, other], "key", buckets=buckets, work_dir=tmp_path)
    )
    assert_frame_equal(result, expected, check_row_order=False)
    inner = joined(
        partitioned_join(left, right, "key", buckets=buckets, work_dir=tmp_path, how="inner")
    )
    assert_frame_equal(inner, left.join(right, on="key", how="inner"), check_row_order=False)


def test_finish_runs_per_bucket_and_the_bucket_files_are_removed(tmp_path):
    left, right = random_tables(3, left_rows=100, right_rows=100)
    batches = list(
        partitioned_join(
            left,
            right,
            "key",
            buckets=4,
            work_dir=tmp_path,
            finish=lambda frame: frame.sort("row"),
        )
    )
    assert 1 < len(batches) <= 4
    assert all(batch["row"].is_sorted() for batch in batches)
    assert not list(tmp_path.iterdir())
    # An abandoned iteration (the writer failed after the first bucket) cleans up too.
    iterator = partitioned_join(left, right, "key", buckets=4, work_dir=tmp_path)
    next(iterator)
    assert list(tmp_path.iterdir())
    iterator.close()
    assert not list(tmp_path.iterdir())


def test_no_rows_gives_one_empty_frame_with_the_schema(tmp_path):
    left, right = random_tables(0, left_rows=10, right_rows=10)
    for buckets in (1, 3):
        (batch,) = partitioned_join(left.head(0), right, "key", buckets=buckets, work_dir=tmp_path)
        assert batch.height == 0 and batch.columns == ["key", "text", "row", "score"]


def test_bad_arguments_are_refused_at_the_call():
    left, right = random_tables(0, left_rows=5, right_rows=5)
    with pytest.raises(ValueError, match="buckets"):
        partitioned_join(left, right, "key", buckets=0)
    with pytest.raises(ValueError, match="'nope'"):
        partitioned_join(left, right, "nope", buckets=2)


def test_bucket_count_follows_the_size_of_the_inputs():
    small = pl.DataFrame({"key": [str(i) for i in range(100)], "text": ["x" * 1_000] * 100})
    rows, row_bytes = frame_size(small.lazy())
    assert rows == 100 and row_bytes >= 1_000
    assert bucket_count([small], bucket_bytes=1 << 30) == 1
    many = bucket_count([small, small], bucket_bytes=10_000)
    assert many == -(-2 * rows * row_bytes // 10_000)
    assert bucket_count([small.head(0)], bucket_bytes=10) == 1
