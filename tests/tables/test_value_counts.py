"""Statistics from value counts equal the ones polars computes on the values themselves."""

from __future__ import annotations

import random

import polars as pl
import pytest

from ocr2_kedro.tables import histogram_bins, quantile_nearest, summary, value_counts


@pytest.mark.parametrize("seed", range(5))
def test_quantiles_and_summary_match_polars_on_the_values(seed):
    rng = random.Random(seed)
    values = pl.Series("tokens", [rng.randint(0, 40) for _ in range(rng.randint(1, 300))])
    counts = value_counts(pl.DataFrame({"tokens": values}).lazy(), "tokens")
    assert counts["count"].sum() == values.len()
    for quantile in (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0):
        assert quantile_nearest(counts, "tokens", quantile) == values.quantile(quantile, "nearest")
    stats = summary(counts, "tokens")
    assert stats["n"] == values.len()
    assert stats["mean"] == pytest.approx(values.mean())
    assert stats["max"] == values.max()
    assert stats["p90"] == values.quantile(0.9, "nearest")


def test_nulls_are_left_out_and_no_values_give_n_zero():
    frame = pl.DataFrame({"g": ["a", "a", "b"], "v": [1, None, None]})
    counts = value_counts(frame, "v", by=["g"])
    assert counts.rows() == [("a", 1, 1)]
    assert summary(counts.filter(pl.col("g") == "b"), "v") == {"n": 0}


def test_histogram_bins_count_every_value_once_in_shared_bins():
    rng = random.Random(7)
    frame = pl.DataFrame(
        {
            "g": [rng.choice(["a", "b"]) for _ in range(500)],
            "v": [rng.randint(10, 3_000) for _ in range(500)],
        }
    )
    counts = value_counts(frame, "v", by=["g"])
    start, width, bins = histogram_bins(counts, "v", "g", max_bins=50)
    assert start == frame["v"].min() and width == float(int(width)) and width >= 1
    for group in ("a", "b"):
        values = frame.filter(pl.col("g") == group)["v"]
        expected = (
            ((values - start) // width * width + start).cast(pl.Float64).value_counts().sort("v")
        )
        got = bins[group]
        assert got["bin_start"].to_list() == expected["v"].to_list()
        assert got["count"].to_list() == expected["count"].to_list()
        assert got.height <= 50
