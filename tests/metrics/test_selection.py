"""The selectors on GenSelect's drawn subsets against hand-worked tables, the interval clustered by
problem against scipy.stats.bootstrap and the exact bootstrap distribution of a small case, and
the selector table (values, tokens, the paired difference) built from per-unit frames."""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
import pytest
from scipy import stats

from ocr2_kedro.metrics.selection import (
    GENSELECT,
    SELECTOR_TABLE,
    clustered_mean,
    genselect_pick,
    selector_markdown,
    selector_metrics,
    selector_table,
    subset_metrics,
    unit_metrics,
)

# One unit, n = 4 (k = 2), by hand:
#   sample          0      1      2      3
#   passed          yes    no     no     yes
#   judged right    no     yes    no     yes
#   critique chars  10     5      7      20
# subset  GenSelect names   GenSelect  self-critique      random  oracle
# (0,1)   1 -> sample 0     1          sample 1 (right): 0  1/2     1
# (1,2)   2 -> sample 2     0          sample 1: 0          0       0
# (2,3)   none (fallback)   first: 0   sample 3: 1          1/2     1
#                           random: 1/2
# (0,3)   2 -> sample 3     1          sample 3: 1          1       1
PASSED = [True, False, False, True]
RIGHT = [False, True, False, True]
LENGTHS = [10.0, 5.0, 7.0, 20.0]
SUBSETS = [(0, 1), (1, 2), (2, 3), (0, 3)]
CHOICES = [0, 1, None, 1]


def test_subset_metrics_match_the_hand_worked_table():
    got = subset_metrics(
        PASSED, RIGHT, LENGTHS, SUBSETS, CHOICES, fallback="first", critique_fallback="random"
    )
    assert got == {
        "pass_at_1_genselect_at_2": 0.5,
        "pass_at_1_select_at_2_drawn": 0.5,
        "random_select_at_2_drawn": 0.5,
        "oracle_select_at_2_drawn": 0.75,
        "subsets": 4,
        "se_subsets": 0,
        "fallbacks": 1,
    }
    random = subset_metrics(
        PASSED, RIGHT, LENGTHS, SUBSETS, CHOICES, fallback="random", critique_fallback="random"
    )
    assert random["pass_at_1_genselect_at_2"] == (1 + 0 + 0.5 + 1) / 4
    fail = subset_metrics(
        PASSED, RIGHT, LENGTHS, SUBSETS, CHOICES, fallback="fail", critique_fallback="random"
    )
    assert fail["pass_at_1_genselect_at_2"] == 0.5


def test_subsets_with_an_se_sample_are_left_out_and_counted():
    # Sample 2 ended in SE: (1,2) and (2,3) say nothing; (0,1) and (0,3) remain.
    got = subset_metrics(
        [True, False, None, True],
        RIGHT,
        LENGTHS,
        SUBSETS,
        CHOICES,
        fallback="first",
        critique_fallback="random",
    )
    assert got["pass_at_1_genselect_at_2"] == 1.0
    assert got["pass_at_1_select_at_2_drawn"] == 0.5
    assert got["random_select_at_2_drawn"] == 0.75
    assert got["oracle_select_at_2_drawn"] == 1.0
    assert (got["subsets"], got["se_subsets"], got["fallbacks"]) == (2, 2, 0)
    # Every subset SE: no value, not zero.
    none = subset_metrics(
        [None, None],
        [False, False],
        [1.0, 1.0],
        [(0, 1)],
        [0],
        fallback="first",
        critique_fallback="random",
    )
    assert none["pass_at_1_genselect_at_2"] is None and none["se_subsets"] == 1


def test_the_critique_selector_within_a_subset_is_its_exact_expectation():
    # Both judged right with equal critiques: a tie, picked uniformly (one passes): 1/2.
    tie = subset_metrics(
        [True, False],
        [True, True],
        [5.0, 5.0],
        [(0, 1)],
        [1],
        fallback="first",
        critique_fallback="random",
    )
    assert tie["pass_at_1_select_at_2_drawn"] == 0.5
    assert tie["pass_at_1_genselect_at_2"] == 0.0
    # None judged right: the self-critique fallback decides (random: the mean; fail: 0;
    # shortest: the shortest critique whatever its judgement, sample 1 here, which passed).
    for fallback, expected in (("random", 0.5), ("fail", 0.0), ("shortest", 1.0)):
        got = subset_metrics(
            [False, True],
            [False, False],
            [9.0, 4.0],
            [(0, 1)],
            [0],
            fallback="first",
            critique_fallback=fallback,
        )
        assert got["pass_at_1_select_at_2_drawn"] == expected


def test_genselect_pick_and_its_fallbacks():
    assert genselect_pick([False, True, True], 1, "first") == (1.0, False)
    assert genselect_pick([False, True, True], None, "first") == (0.0, True)
    assert genselect_pick([False, True, True], None, "random") == (2 / 3, True)
    assert genselect_pick([True, True], None, "fail") == (0.0, True)
    with pytest.raises(ValueError, match="outside"):
        genselect_pick([True, False], 2, "first")
    with pytest.raises(ValueError, match="fallback"):
        genselect_pick([True, False], None, "last")


# --- the interval, clustered by problem -------------------------------------------------------


def test_clustered_mean_matches_scipy_resampling_whole_problems():
    rng = np.random.default_rng(5)
    problems = [f"q{i}" for i in range(60)]
    # 60 problems; every third is asked in two languages (two units of one cluster).
    clusters = [q for i, q in enumerate(problems) for _ in range(2 if i % 3 == 0 else 1)]
    values = rng.random(len(clusters))
    mean, low, high, count = clustered_mean(
        values, clusters, resamples=3000, seed=9, confidence=0.95
    )
    assert count == 60
    assert mean == pytest.approx(values.mean())  # the mean over units
    frame = (
        pl.DataFrame({"c": clusters, "v": values})
        .group_by("c")
        .agg(pl.col("v").sum().alias("s"), pl.len().cast(pl.Float64).alias("u"))
        .sort("c")
    )
    reference = stats.bootstrap(
        (frame["s"].to_numpy(), frame["u"].to_numpy()),
        lambda s, u, axis=-1: s.sum(axis=axis) / u.sum(axis=axis),
        paired=True,
        vectorized=True,
        method="percentile",
        confidence_level=0.95,
        n_resamples=3000,
        rng=np.random.Generator(np.random.PCG64(9)),
    ).confidence_interval
    assert (low, high) == pytest.approx((reference.low, reference.high), abs=1e-12)


def test_clustered_mean_of_three_problems_against_the_exact_bootstrap():
    # Problem a holds two units (0 and 1), b one (1), c one (1): mean over units 3/4. The 27
    # equally likely resamples of the 3 problems give the exact distribution of the ratio.
    values, clusters = [0.0, 1.0, 1.0, 1.0], ["a", "a", "b", "c"]
    sums, units = {"a": 1.0, "b": 1.0, "c": 1.0}, {"a": 2.0, "b": 1.0, "c": 1.0}
    exact = sorted(
        sum(sums[p] for p in draw) / sum(units[p] for p in draw)
        for draw in itertools.product("abc", repeat=3)
    )
    mean, low, high, count = clustered_mean(
        values, clusters, resamples=20000, seed=1, confidence=0.9
    )
    assert (mean, count) == (0.75, 3)
    # The exact distribution: 1/27 (3.7%) at 1/2 (aaa), 6/27 at 3/5 (two a's), 12/27 at 3/4,
    # 8/27 at 1: its 5% and 95% quantiles are 3/5 and 1, far from the bands' edges (3.7% and
    # 25.9% below 3/5; 70.4% below 1), so 20000 resamples land on them exactly.
    assert exact.count(0.5) == 1 and exact.count(0.6) == 6 and exact.count(1.0) == 8
    assert (low, high) == (0.6, 1.0)
    # Resampling units instead of problems would split problem a: 4 units of which 1 is 0, and
    # a 5% quantile of 1/4 (P(at most one 1 in 4 draws) = 5.1%).


# --- from frames ------------------------------------------------------------------------------


def sample_results() -> pl.DataFrame:
    rows = []
    for question_id, language, passed, right, lengths in [
        ("q1", "python", PASSED, RIGHT, LENGTHS),
        ("q1", "cpp", [True, True, False, False], [True, False, False, False], [3, None, 4, 5]),
        ("q2", "python", [False, False, False, True], [False] * 4, [1, 2, 3, 4]),
    ]:
        for idx in range(4):
            rows.append(
                {
                    "sample_id": f"{question_id}-{language}-{idx}",
                    "model": "base",
                    "question_id": question_id,
                    "language": language,
                    "temperature": 0.6,
                    "sample_idx": idx,
                    "passed": passed[idx],
                    "judged_right": right[idx],
                    "system_error": False,
                    "critique_length": lengths[idx],
                }
            )
    return pl.DataFrame(rows)


def genselect_rows() -> pl.DataFrame:
    rows = []
    picks = {
        ("q1", "python"): (SUBSETS, CHOICES),
        ("q1", "cpp"): ([(0, 2), (2, 3)], [1, None]),
        ("q2", "python"): ([(1, 3)], [0]),
    }
    for (question_id, language), (subsets, choices) in picks.items():
        for idx, (subset, choice) in enumerate(zip(subsets, choices, strict=True)):
            rows.append(
                {
                    "model": "base",
                    "question_id": question_id,
                    "language": language,
                    "temperature": 0.6,
                    "k": 2,
                    "subset_idx": idx,
                    "sample_idxs": list(subset),
                    "sample_ids": [f"{question_id}-{language}-{i}" for i in subset],
                    "status": "parsed" if choice is not None else "unparsed",
                    "choice": choice,
                    "num_output_tokens": 10 + idx,
                }
            )
    return pl.DataFrame(rows, schema_overrides={"choice": pl.Int64}).pipe(
        lambda frame: frame.select(
            [
                pl.col(c) if c in frame.columns else pl.lit(None, t).alias(c)
                for c, t in GENSELECT.items()
            ]
        )
    )


def test_unit_metrics_and_the_selector_table():
    units = unit_metrics(
        sample_results(), genselect_rows(), fallback="first", critique_fallback="random"
    )
    by_unit = {(r["question_id"], r["language"]): r for r in units.iter_rows(named=True)}
    q1 = by_unit[("q1", "python")]
    assert q1["pass_at_1_genselect_at_2"] == 0.5 and q1["oracle_select_at_2_drawn"] == 0.75
    assert (q1["genselect_requests_at_2"], q1["genselect_tokens_at_2"]) == (4, 10 + 11 + 12 + 13)
    assert q1["genselect_unparsed_at_2"] == 1
    # q1 cpp: (0,2): GenSelect names sample 2 (fails); self-critique: sample 0 (right): passes;
    # (2,3): unparsed -> first, sample 2 (fails); none right -> random: 0. Random 1/2, 0; oracle 1, 0.
    cpp = by_unit[("q1", "cpp")]
    assert cpp["pass_at_1_genselect_at_2"] == 0.0
    assert cpp["pass_at_1_select_at_2_drawn"] == 0.5
    assert cpp["random_select_at_2_drawn"] == 0.25
    assert cpp["oracle_select_at_2_drawn"] == 0.5
    # q2: (1,3): GenSelect names sample 1 (fails); nobody right -> random 1/2.
    q2 = by_unit[("q2", "python")]
    assert (q2["pass_at_1_genselect_at_2"], q2["pass_at_1_select_at_2_drawn"]) == (0.0, 0.5)

    critique_tokens = pl.DataFrame(
        {
            "model": ["base"] * 4,
            # q3 has no GenSelect unit: its critique is not counted.
            "question_id": ["q1", "q2", "q1", "q3"],
            "language": ["python", "python", "cpp", "python"],
            "temperature": [0.6] * 4,
            "num_output_tokens": [30, 34, 20, 1000],
        }
    )
    table = selector_table(units, critique_tokens, [2], resamples=500, seed=0)
    assert table.schema == SELECTOR_TABLE
    pooled = {
        r["method"]: r for r in table.filter(pl.col("language") == "all").iter_rows(named=True)
    }
    # Means over the 3 units.
    assert pooled["genselect"]["value"] == pytest.approx((0.5 + 0.0 + 0.0) / 3)
    assert pooled["self_critique"]["value"] == pytest.approx((0.5 + 0.5 + 0.5) / 3)
    assert pooled["random"]["value"] == pytest.approx((0.5 + 0.25 + 0.5) / 3)
    assert pooled["oracle"]["value"] == pytest.approx((0.75 + 0.5 + 1.0) / 3)
    assert pooled["genselect"]["problems"] == 2 and pooled["genselect"]["units"] == 3
    assert pooled["genselect"]["subsets"] == 7 and pooled["genselect"]["unparsed"] == 2
    assert pooled["genselect"]["requests"] == 7
    assert pooled["genselect"]["extra_tokens"] == (10 + 11 + 12 + 13) + (10 + 11) + 10
    assert pooled["genselect"]["tokens_per_request"] == pytest.approx(77 / 7)
    assert pooled["self_critique"]["extra_tokens"] == 84
    assert pooled["self_critique"]["requests"] == 3
    assert pooled["random"]["extra_tokens"] == 0
    # The interval is clustered_mean's (problems resampled).
    expected = clustered_mean(
        [0.5, 0.0, 0.0], ["q1", "q1", "q2"], resamples=500, seed=0, confidence=0.95
    )
    assert (pooled["genselect"]["ci_low"], pooled["genselect"]["ci_high"]) == expected[1:3]
    difference = pooled["genselect_minus_self_critique"]
    assert difference["value"] == pytest.approx(1 / 6 - 1 / 2)
    assert difference["ci_low"] <= difference["value"] <= difference["ci_high"]
    python = table.filter((pl.col("language") == "python") & (pl.col("method") == "genselect"))
    assert python["value"].item() == pytest.approx(0.25) and python["problems"].item() == 2

    metrics = selector_metrics(table)
    assert metrics["selection.all.t0.6.pass_at_1_genselect_at_2"]["value"] == pytest.approx(1 / 6)
    assert "selection.all.t0.6.pass_at_1_genselect_at_2.ci_low" in metrics
    assert metrics["selection.all.t0.6.genselect_tokens_at_2"]["value"] == 77
    assert metrics["selection.all.t0.6.genselect_unparsed_at_2"]["value"] == 2
    assert metrics["selection.all.t0.6.self_critique_tokens"]["value"] == 84
    assert "selection.all.t0.6.genselect_minus_select_at_2" in metrics
    assert all("@" not in name for name in metrics)
    markdown = selector_markdown(table, "base")
    assert "| all | 0.6 | 2 | genselect | 0.167 |" in markdown


def test_an_empty_genselect_gives_an_empty_table():
    units = unit_metrics(
        sample_results(),
        pl.DataFrame(schema=GENSELECT),
        fallback="first",
        critique_fallback="random",
    )
    assert units.is_empty()
    table = selector_table(units, pl.DataFrame(), [2], resamples=10, seed=0)
    assert table.is_empty() and table.schema == SELECTOR_TABLE
    assert "No GenSelect subsets" in selector_markdown(table, "base")
    assert math.isnan(clustered_mean([], [], resamples=10, seed=0, confidence=0.95)[0])
