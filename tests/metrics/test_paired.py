"""Paired bootstrap differences against hand-worked cases, the exact bootstrap distribution of a
three-unit example (all 3^3 resamples enumerated) and scipy.stats.bootstrap."""

from __future__ import annotations

import itertools
import math
import tracemalloc

import numpy as np
import polars as pl
import pytest
from scipy import stats

from ocr2_kedro.metrics import paired
from ocr2_kedro.metrics.paired import (
    PAIRED_FIELDS,
    PairedDifference,
    paired_difference,
    paired_frame,
)

# --- hand-worked cases ------------------------------------------------------------------------


def test_identical_variants_differ_by_nothing():
    a = [0.0, 0.25, 1.0, 0.5, 0.75]
    got = paired_difference(a, list(a), resamples=500, seed=0)
    assert (got.difference, got.ci_low, got.ci_high) == (0.0, 0.0, 0.0)
    assert got.units == 5
    assert not got.significant
    assert got.label() == "+0.000 [+0.000, +0.000] (n.s.)"


def test_a_constant_shift_is_significant_with_a_point_interval():
    a = [0.0, 0.25, 1.0, 0.5, 0.75, 0.125]
    b = [x + 1 for x in a]
    got = paired_difference(a, b, resamples=500, seed=0)
    assert (got.difference, got.ci_low, got.ci_high) == (1.0, 1.0, 1.0)
    assert got.mean_a == pytest.approx(np.mean(a))
    assert got.mean_b == pytest.approx(np.mean(a) + 1)
    assert got.significant
    assert got.label() == "+1.000 [+1.000, +1.000]"
    # A shift that rounding makes uneven still gives an interval of (almost) exactly the shift.
    noisy = np.random.default_rng(3).random(50)
    shifted = paired_difference(noisy, noisy + 1, resamples=500, seed=0)
    assert shifted.ci_low == pytest.approx(1.0) and shifted.ci_high == pytest.approx(1.0)
    assert shifted.significant


def test_a_negative_difference_is_b_minus_a():
    got = paired_difference([1.0, 1.0, 0.5, 1.0], [0.0, 0.5, 0.0, 0.5], resamples=2000, seed=1)
    assert got.difference == pytest.approx(-0.625)
    assert got.ci_high < 0 and got.significant
    assert got.label().startswith("-0.625 [")


def test_one_unit_or_none_cannot_show_a_difference():
    one = paired_difference([0.25], [0.75], resamples=100, seed=0)
    assert (one.difference, one.ci_low, one.ci_high, one.units) == (0.5, 0.5, 0.5, 1)
    assert not one.significant
    none = paired_difference([], [], resamples=100, seed=0)
    assert none.units == 0 and not none.significant
    assert all(math.isnan(x) for x in (none.mean_a, none.difference, none.ci_low, none.ci_high))
    assert none.label() == "n/a (no shared units)"


def test_label_formats_sign_interval_and_not_significant():
    real = PairedDifference(0.5, 0.531, 0.031, 0.004, 0.058, 100, 0.95, True)
    assert real.label() == "+0.031 [+0.004, +0.058]"
    noise = PairedDifference(0.5, 0.512, 0.012, -0.010, 0.035, 100, 0.95, False)
    assert noise.label() == "+0.012 [-0.010, +0.035] (n.s.)"
    assert noise.label(digits=2) == "+0.01 [-0.01, +0.04] (n.s.)"


def test_an_interval_touching_zero_is_not_significant():
    # Differences 0 and 1: the resampled means run from 0 (every draw the first unit) to 1.
    got = paired_difference([0.0, 0.0], [0.0, 1.0], resamples=4000, seed=0)
    assert got.ci_low == 0.0 and got.ci_high == 1.0
    assert not got.significant


# --- the exact bootstrap distribution -----------------------------------------------------------


def _exact_quantile(atoms: np.ndarray, p: float) -> tuple[float, float]:
    """The p-quantile of the uniform distribution over `atoms` (smallest x with P(X <= x) >= p),
    and how far p lies from the nearest jump of the distribution function."""
    values, counts = np.unique(atoms, return_counts=True)
    cdf = np.cumsum(counts) / atoms.size
    return float(values[np.searchsorted(cdf, p)]), float(np.min(np.abs(cdf - p)))


@pytest.mark.parametrize("confidence", [0.6, 0.8, 0.95])
def test_percentiles_match_the_enumerated_bootstrap_distribution(confidence):
    """Differences (0, 1, 3): the 27 equally likely resamples have means 0, 1/3, 2/3, 1 (twice),
    4/3, ..., 3, so the exact 80% interval is [1/3, 7/3] (sums 1 and 7; P(sum <= 1) = 4/27 > 0.1
    and P(sum <= 6) = 23/27 < 0.9 < 26/27). With enough resamples the empirical percentiles land on
    the same atoms, because each p lies far (many standard errors) from a jump of the CDF."""
    a = [0.5, 0.25, 0.0]
    b = [0.5, 1.25, 3.0]
    resamples = 20_000
    atoms = np.array([np.mean(r) for r in itertools.product([0.0, 1.0, 3.0], repeat=3)])
    alpha = (1 - confidence) / 2
    (low, low_gap), (high, high_gap) = (
        _exact_quantile(atoms, alpha),
        _exact_quantile(atoms, 1 - alpha),
    )
    # Standard deviation of the empirical CDF at alpha (and at 1 - alpha) over the resamples.
    sampling_sd = math.sqrt(alpha * (1 - alpha) / resamples)
    assert min(low_gap, high_gap) > 8 * sampling_sd
    got = paired_difference(a, b, resamples=resamples, seed=7, confidence=confidence)
    assert got.difference == pytest.approx(4 / 3)
    assert got.ci_low == pytest.approx(low, abs=1e-12)
    assert got.ci_high == pytest.approx(high, abs=1e-12)
    assert got.significant == (low > 0)
    if confidence == 0.8:
        assert (low, high) == pytest.approx((1 / 3, 7 / 3))
    if confidence == 0.95:
        # P(every draw is the 0) = 1/27 > 2.5%: the interval reaches 0, so not significant.
        assert (low, high) == (0.0, 3.0)
        assert not got.significant


# --- scipy ------------------------------------------------------------------------------------


def _two_hundred_problems() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2024)
    a = rng.random(200)
    b = np.clip(a + 0.03 + rng.normal(0, 0.1, 200), 0, 1)
    return a, b


def test_interval_matches_scipy_percentile_bootstrap():
    a, b = _two_hundred_problems()
    differences = b - a
    resamples = 5000

    def scipy_interval(seed: int) -> tuple[float, float]:
        # `rng` is scipy's current name for `random_state` (deprecated since scipy 1.15).
        ci = stats.bootstrap(
            (differences,),
            np.mean,
            method="percentile",
            confidence_level=0.95,
            n_resamples=resamples,
            rng=np.random.Generator(np.random.PCG64(seed)),
        ).confidence_interval
        return float(ci.low), float(ci.high)

    got = paired_difference(a, b, resamples=resamples, seed=11)
    assert got.difference == pytest.approx(differences.mean())
    # Same generator and one chunk of draws: the very resamples scipy draws.
    assert (got.ci_low, got.ci_high) == pytest.approx(scipy_interval(11), abs=1e-12)
    # Independent draws agree within the Monte Carlo error of the percentiles (about 0.04 standard
    # errors of the mean difference at 5000 resamples).
    stderr = differences.std(ddof=1) / math.sqrt(differences.size)
    low, high = scipy_interval(12)
    assert got.ci_low == pytest.approx(low, abs=0.3 * stderr)
    assert got.ci_high == pytest.approx(high, abs=0.3 * stderr)


def test_same_seed_same_interval_and_chunks_bound_memory(monkeypatch):
    a, b = _two_hundred_problems()
    first = paired_difference(a, b, resamples=1000, seed=5)
    assert first == paired_difference(a, b, resamples=1000, seed=5)
    other = paired_difference(a, b, resamples=1000, seed=6)
    assert (first.ci_low, first.ci_high) != (other.ci_low, other.ci_high)
    # 10k units x 200 resamples: 2M indices and values (32 MB) in one chunk; 5 rows per chunk keep
    # the peak near 0.8 MB and still give a seeded interval close to the one-chunk one.
    rng = np.random.default_rng(9)
    big_a = rng.random(10_000)
    big_b = big_a + rng.normal(0.01, 0.2, 10_000)
    whole = paired_difference(big_a, big_b, resamples=200, seed=1)
    monkeypatch.setattr(paired, "_CHUNK_ELEMENTS", 50_000)
    tracemalloc.start()
    chunked = paired_difference(big_a, big_b, resamples=200, seed=1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4_000_000
    assert chunked == paired_difference(big_a, big_b, resamples=200, seed=1)
    stderr = (big_b - big_a).std(ddof=1) / math.sqrt(10_000)
    assert chunked.ci_low == pytest.approx(whole.ci_low, abs=stderr)
    assert chunked.ci_high == pytest.approx(whole.ci_high, abs=stderr)


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "message"),
    [
        ([0.1, 0.2], [0.1], {}, "same units"),
        ([[0.1, 0.2]], [[0.1, 0.2]], {}, "flat sequences"),
        ([0.1, float("nan")], [0.1, 0.2], {}, "finite"),
        ([0.1, 0.2], [0.1, 0.2], {"confidence": 95}, "e.g. 0.95"),
        ([0.1, 0.2], [0.1, 0.2], {"confidence": 0.0}, "between 0 and 1"),
        ([0.1, 0.2], [0.1, 0.2], {"resamples": 0}, "resamples"),
    ],
)
def test_refuses_what_it_cannot_pair(a, b, kwargs, message):
    settings = {"resamples": 100, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        paired_difference(a, b, **settings)


# --- frames -----------------------------------------------------------------------------------


def _long_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "question_id": ["q1", "q2", "q3", "q4", "q2", "q3", "q4", "q5", "q1", "q2", "q3", "q4"],
            "language": ["python"] * 12,
            "model": ["base"] * 4 + ["stage1"] * 4 + ["stage2"] * 4,
            "pass_at_1": [0.0, 0.5, 0.25, 1.0, 0.75, 0.5, float("nan"), 1.0, 1.0, 1.0, 0.5, None],
        }
    )


def test_paired_frame_joins_only_shared_units_and_counts_them():
    frame = _long_frame()
    settings = {"resamples": 500, "seed": 3, "confidence": 0.9}
    got = paired_frame(
        frame,
        unit=["question_id", "language"],
        variant="model",
        value="pass_at_1",
        baseline="base",
        **settings,
    )
    assert got.schema == pl.Schema({"model": pl.String, **PAIRED_FIELDS})
    assert got.get_column("model").to_list() == ["stage1", "stage2"]
    assert got.get_column("baseline").to_list() == ["base", "base"]
    # stage1 has q2, q3 with base (q1 missing, q4 NaN, q5 not in base); stage2 has q1-q3 (q4 null).
    assert got.get_column("units").to_list() == [2, 3]
    stage1 = got.row(0, named=True)
    expected = paired_difference([0.5, 0.25], [0.75, 0.5], **settings)
    assert stage1["difference"] == pytest.approx(0.25)
    assert (stage1["mean_a"], stage1["mean_b"]) == pytest.approx((0.375, 0.625))
    assert (stage1["ci_low"], stage1["ci_high"]) == (expected.ci_low, expected.ci_high)
    assert stage1["significant"] is expected.significant
    assert stage1["label"] == expected.label()
    stage2 = got.row(1, named=True)
    worked = paired_difference([0.0, 0.5, 0.25], [1.0, 1.0, 0.5], **settings)
    assert stage2 == {
        "model": "stage2",
        "baseline": "base",
        **{field: getattr(worked, field) for field in PAIRED_FIELDS.names()[1:-1]},
        "label": worked.label(),
    }
    # Row order in the frame does not change the pairing or the interval.
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=1)
    assert paired_frame(
        shuffled,
        unit=["question_id", "language"],
        variant="model",
        value="pass_at_1",
        baseline="base",
        **settings,
    ).equals(got)


def test_paired_frame_with_only_the_baseline_is_empty():
    frame = _long_frame().filter(pl.col("model") == "base")
    got = paired_frame(
        frame,
        unit=["question_id"],
        variant="model",
        value="pass_at_1",
        baseline="base",
        resamples=100,
        seed=0,
    )
    assert got.height == 0
    assert got.schema == pl.Schema({"model": pl.String, **PAIRED_FIELDS})


@pytest.mark.parametrize(
    ("change", "kwargs", "message"),
    [
        (lambda f: f, {"baseline": "stage9"}, "pass one of"),
        (lambda f: pl.concat([f, f.head(1)]), {}, "several rows"),
        (lambda f: f.drop("language"), {}, "lacks the columns"),
        (lambda f: f, {"unit": []}, "unit must name"),
        (lambda f: f, {"unit": ["question_id", "model"]}, "must not include"),
        (lambda f: f, {"confidence": 1.0}, "confidence"),
    ],
)
def test_paired_frame_refuses_what_it_cannot_pair(change, kwargs, message):
    settings = {
        "unit": ["question_id", "language"],
        "variant": "model",
        "value": "pass_at_1",
        "baseline": "base",
        "resamples": 100,
        "seed": 0,
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        paired_frame(change(_long_frame()), **settings)
