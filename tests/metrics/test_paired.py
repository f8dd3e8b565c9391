"""Paired bootstrap differences against hand-worked cases, the exact bootstrap distribution of
three-unit examples (all 3^3 resamples enumerated) and scipy.stats.bootstrap: plain means of
per-problem values, and token-weighted means of per-reference losses resampled by reference (a
paired scipy bootstrap of the ratio statistic); then the comparisons of models or variants built
on them."""

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
    DIFFERENCES,
    PAIRED_FIELDS,
    PairedDifference,
    comparison_pairs,
    paired_comparison,
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


# --- weighted units: the reference loss, resampled by reference --------------------------------


def test_weighted_means_are_token_weighted_by_hand():
    # Two references of 1 and 3 tokens with mean losses 1.0 and 2.0: (1 + 6) / 4 = 1.75, not 1.5.
    # The other model: 2.0 and 1.0 per token over the same tokens: (2 + 3) / 4 = 1.25.
    got = paired_difference(
        [1.0, 2.0], [2.0, 1.0], weights_a=[1, 3], weights_b=[1, 3], resamples=4000, seed=0
    )
    assert (got.mean_a, got.mean_b) == (1.75, 1.25)
    assert got.difference == -0.5
    # Resamples: both draws the first reference (1/4): +1.0; both the second (1/4): -1.0; one of
    # each (1/2): (2 + 3 - 1 - 6) / 4 = -0.5. The 95% interval spans the extremes: n.s.
    assert (got.ci_low, got.ci_high) == (-1.0, 1.0)
    assert not got.significant
    assert got.label() == "-0.500 [-1.000, +1.000] (n.s.)"


def test_the_same_shift_under_the_same_weights_is_a_point_interval():
    a = [1.5, 0.5, 2.25, 1.0]
    b = [x - 0.25 for x in a]
    tokens = [10, 200, 3, 40]
    got = paired_difference(a, b, weights_a=tokens, weights_b=tokens, resamples=500, seed=0)
    assert (got.difference, got.ci_low, got.ci_high) == (-0.25, -0.25, -0.25)
    assert got.significant
    # Different token counts (two tokenizers) re-weight each side: no longer a constant statistic.
    other = paired_difference(
        a, b, weights_a=tokens, weights_b=[10, 20, 3, 400], resamples=500, seed=0
    )
    assert other.ci_low < other.ci_high


def test_unit_weights_give_the_unweighted_interval():
    a, b = _two_hundred_problems()
    plain = paired_difference(a, b, resamples=2000, seed=4)
    ones = np.ones(a.size)
    weighted = paired_difference(a, b, weights_a=ones, weights_b=ones, resamples=2000, seed=4)
    assert weighted.difference == pytest.approx(plain.difference, abs=1e-12)
    assert weighted.ci_low == pytest.approx(plain.ci_low, abs=1e-12)
    assert weighted.ci_high == pytest.approx(plain.ci_high, abs=1e-12)


@pytest.mark.parametrize("confidence", [0.6, 0.8])
def test_weighted_percentiles_match_the_enumerated_bootstrap_distribution(confidence):
    """Three references: the 27 equally likely resamples (multisets with their multiplicities),
    each with its ratio statistic computed by hand; the sampled percentiles land on the same
    atoms when each p lies far from a jump of the exact distribution function."""
    a = np.array([1.0, 2.0, 0.5])
    b = np.array([0.5, 2.5, 0.0])
    w = np.array([2.0, 5.0, 1.0])
    # Rounded: one multiset drawn in another order must give the same atom, not a neighbour.
    atoms = np.array(
        [
            (w[list(r)] * b[list(r)]).sum() / w[list(r)].sum()
            - (w[list(r)] * a[list(r)]).sum() / w[list(r)].sum()
            for r in itertools.product(range(3), repeat=3)
        ]
    ).round(12)
    resamples = 20_000
    alpha = (1 - confidence) / 2
    (low, low_gap), (high, high_gap) = (
        _exact_quantile(atoms, alpha),
        _exact_quantile(atoms, 1 - alpha),
    )
    assert min(low_gap, high_gap) > 8 * math.sqrt(alpha * (1 - alpha) / resamples)
    got = paired_difference(
        a, b, weights_a=w, weights_b=w, resamples=resamples, seed=3, confidence=confidence
    )
    assert got.difference == pytest.approx((w * (b - a)).sum() / w.sum())  # (-1 + 2.5 - .5) / 8
    assert got.ci_low == pytest.approx(low, abs=1e-11)
    assert got.ci_high == pytest.approx(high, abs=1e-11)
    # The first and third references both lose 0.5 per token; the 2^3 = 8 resamples drawn from
    # them alone give -0.5: P = 8/27 > 20%, so both intervals start there.
    assert low == -0.5 and not got.significant


def _references() -> tuple[np.ndarray, ...]:
    """120 references of 5 to 400 tokens; the second model's loss moves by a per-reference shift
    (one program, one difficulty: every token of a reference moves together)."""
    rng = np.random.default_rng(7)
    tokens_a = rng.integers(5, 400, 120).astype(float)
    tokens_b = tokens_a + rng.integers(-3, 4, 120)  # another tokenizer splits a little differently
    a = rng.gamma(2.0, 0.6, 120)
    b = np.clip(a - 0.05 + rng.normal(0, 0.3, 120), 0.01, None)
    return a, b, tokens_a, tokens_b


def _ratio_difference(a, w_a, b, w_b, axis=-1):
    return (b * w_b).sum(axis) / w_b.sum(axis) - (a * w_a).sum(axis) / w_a.sum(axis)


def test_weighted_interval_matches_scipy_paired_bootstrap_of_the_ratio_statistic():
    a, b, tokens_a, tokens_b = _references()
    resamples = 4000

    def scipy_interval(seed: int) -> tuple[float, float]:
        ci = stats.bootstrap(
            (a, tokens_a, b, tokens_b),
            _ratio_difference,
            paired=True,  # one index draws a reference for all four arrays: clusters of tokens
            vectorized=True,
            method="percentile",
            confidence_level=0.95,
            n_resamples=resamples,
            rng=np.random.Generator(np.random.PCG64(seed)),
        ).confidence_interval
        return float(ci.low), float(ci.high)

    got = paired_difference(
        a, b, weights_a=tokens_a, weights_b=tokens_b, resamples=resamples, seed=21
    )
    assert got.difference == pytest.approx(_ratio_difference(a, tokens_a, b, tokens_b))
    assert got.mean_a == pytest.approx((a * tokens_a).sum() / tokens_a.sum())
    # Same generator, one chunk: the very resamples scipy draws.
    assert (got.ci_low, got.ci_high) == pytest.approx(scipy_interval(21), abs=1e-12)
    # Chunked draws (a few resamples at a time) agree with independent scipy draws within the
    # Monte Carlo error of the percentiles.
    width = got.ci_high - got.ci_low
    low, high = scipy_interval(22)
    assert got.ci_low == pytest.approx(low, abs=0.1 * width)
    assert got.ci_high == pytest.approx(high, abs=0.1 * width)


def test_resampling_references_not_tokens(monkeypatch):
    """Tokens of one reference move together, so counting them as independent units would claim
    a precision the data does not have: the same losses expanded to one unit per token give the
    same difference with a far narrower interval."""
    a, b, tokens, _ = _references()
    by_reference = paired_difference(
        a, b, weights_a=tokens, weights_b=tokens, resamples=2000, seed=0
    )
    per_token_a = np.repeat(a, tokens.astype(int))
    per_token_b = np.repeat(b, tokens.astype(int))
    by_token = paired_difference(per_token_a, per_token_b, resamples=2000, seed=0)
    assert by_token.difference == pytest.approx(by_reference.difference)
    assert (by_token.ci_high - by_token.ci_low) < 0.3 * (by_reference.ci_high - by_reference.ci_low)
    # And the weighted bootstrap bounds its memory like the plain one.
    monkeypatch.setattr(paired, "_CHUNK_ELEMENTS", 1_000)
    chunked = paired_difference(a, b, weights_a=tokens, weights_b=tokens, resamples=2000, seed=0)
    assert chunked.ci_low == pytest.approx(
        by_reference.ci_low, abs=0.2 * (by_reference.ci_high - by_reference.ci_low)
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weights_a": [1, 2]}, "both weights_a and weights_b"),
        ({"weights_a": [1, 2], "weights_b": [1]}, "one weight per unit"),
        ({"weights_a": [1, 0], "weights_b": [1, 2]}, "finite and positive"),
        ({"weights_a": [1, float("inf")], "weights_b": [1, 2]}, "finite and positive"),
    ],
)
def test_refuses_weights_it_cannot_use(kwargs, message):
    with pytest.raises(ValueError, match=message):
        paired_difference([0.1, 0.2], [0.3, 0.4], resamples=100, seed=0, **kwargs)


def test_paired_frame_weights_each_variant_by_its_own_column_and_skips_empty_references():
    frame = pl.DataFrame(
        {
            "question_id": ["q1", "q2", "q3", "q1", "q2", "q3"],
            "model": ["base"] * 3 + ["stage1"] * 3,
            "loss": [1.0, 2.0, 4.0, 0.5, 2.5, float("nan")],
            # q3 of base scored no token (its reference was cut away): it holds no loss.
            "tokens": [10, 30, 0, 10, 30, 0],
        }
    )
    got = paired_frame(
        frame,
        unit=["question_id"],
        variant="model",
        value="loss",
        weight="tokens",
        baseline="base",
        resamples=500,
        seed=0,
    ).row(0, named=True)
    expected = paired_difference(
        [1.0, 2.0], [0.5, 2.5], weights_a=[10, 30], weights_b=[10, 30], resamples=500, seed=0
    )
    assert got["units"] == 2
    assert (got["mean_a"], got["mean_b"]) == (1.75, 2.0)  # (10 + 60) / 40, (5 + 75) / 40
    assert (got["difference"], got["ci_low"], got["ci_high"]) == (
        expected.difference,
        expected.ci_low,
        expected.ci_high,
    )
    with pytest.raises(ValueError, match="lacks the columns"):
        paired_frame(
            frame.drop("tokens"),
            unit=["question_id"],
            variant="model",
            value="loss",
            weight="tokens",
            baseline="base",
            resamples=100,
            seed=0,
        )


def test_paired_frame_keeps_a_variant_without_values_as_a_row_of_no_units():
    frame = _long_frame().with_columns(
        pl.when(pl.col("model") == "stage2")
        .then(None)
        .otherwise(pl.col("pass_at_1"))
        .alias("pass_at_1")
    )
    got = paired_frame(
        frame,
        unit=["question_id"],
        variant="model",
        value="pass_at_1",
        baseline="base",
        resamples=100,
        seed=0,
    )
    assert got["model"].to_list() == ["stage1", "stage2"]
    stage2 = got.row(1, named=True)
    assert stage2["units"] == 0 and math.isnan(stage2["difference"])
    assert stage2["label"] == "n/a (no shared units)" and not stage2["significant"]


# --- comparisons of evaluated models or ablation variants ---------------------------------------


def test_comparison_pairs_against_the_first_and_the_one_before():
    names = ["base", "stage1", "stage2", "dpo"]
    assert comparison_pairs(names, previous=False) == [
        ("stage1", "base"),
        ("stage2", "base"),
        ("dpo", "base"),
    ]
    assert comparison_pairs(names, previous=True) == [
        ("stage1", "base"),
        ("stage2", "base"),
        ("dpo", "base"),
        ("stage2", "stage1"),
        ("dpo", "stage2"),
    ]
    assert comparison_pairs(["base"], previous=True) == []
    with pytest.raises(ValueError, match="distinct"):
        comparison_pairs(["a", "a"], previous=False)


def _problem_results(
    model: str, python: list[float], cpp: list[float], t: float = 0.6
) -> pl.DataFrame:
    """Two problems in two languages at one temperature; `model` is deliberately the same for
    every variant (ablation variants all evaluate "student"): the key names a variant."""
    return pl.DataFrame(
        {
            "model": ["student"] * 4,
            "question_id": ["q1", "q2", "q1", "q2"],
            "language": ["python", "python", "cpp", "cpp"],
            "temperature": [t] * 4,
            "n": [2] * 4,
            "correct": [0] * 4,
            "pass_at_1": [*python, *cpp],
            "pass_at_1_select_at_2": [*python, *cpp],
        }
    )


def _token_losses(nll: list[float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "model": ["student"] * 3,
            "question_id": ["q1", "q2", "q1"],
            "language": ["python", "python", "cpp"],
            "reference_idx": [0, 0, 0],
            "tokens": [10, 20, 5],
            "nll": nll,
            "truncated": [False] * 3,
        },
        schema_overrides={"tokens": pl.Int64, "reference_idx": pl.Int64},
    )


def _comparison(**changes) -> pl.DataFrame:
    problems = {
        "base": _problem_results("base", [0.0, 0.5], [0.0, 0.0]),
        "stage1": _problem_results("stage1", [0.5, 0.5], [0.0, 1.0]),
        "stage2": _problem_results("stage2", [1.0, 1.0], [0.5, 1.0]),
    }
    losses = {
        "base": _token_losses([10.0, 30.0, 5.0]),
        "stage1": _token_losses([9.0, 28.0, 6.0]),
        "stage2": _token_losses([8.0, 20.0, 4.0]),
    }
    settings = {
        "pairs": comparison_pairs(["base", "stage1", "stage2"], previous=True),
        "resamples": 1000,
        "seed": 0,
        "confidence": 0.95,
        **changes,
    }
    return paired_comparison(
        settings.pop("problems", problems), settings.pop("losses", losses), **settings
    )


def _row(table: pl.DataFrame, comparison: str, metric: str, language: str) -> dict:
    [row] = table.filter(
        (pl.col("comparison") == comparison)
        & (pl.col("metric") == metric)
        & (pl.col("language") == language)
    ).iter_rows(named=True)
    return row


def test_paired_comparison_by_hand():
    table = _comparison()
    assert table.schema == DIFFERENCES
    assert table["comparison"].unique(maintain_order=True).to_list() == [
        "stage1_vs_base",
        "stage2_vs_base",
        "stage2_vs_stage1",
    ]
    # Per comparison: 2 metrics x (cpp, python, all) at t=0.6, reference loss x (cpp, python, all).
    assert table.height == 3 * (2 * 3 + 3)
    python = _row(table, "stage1_vs_base", "pass_at_1", "python")
    assert (python["baseline_mean"], python["variant_mean"], python["difference"]) == (
        0.25,
        0.5,
        0.25,
    )
    assert (python["units"], python["unit"], python["temperature"]) == (2, "problem", 0.6)
    # Per-problem differences 0.5 and 0: the resampled means are 0, 0.25 or 0.5.
    assert (python["ci_low"], python["ci_high"]) == (0.0, 0.5)
    assert not python["significant"] and python["label"].endswith("(n.s.)")
    # "all" pools every (problem, language): differences 0.5, 0, 0, 1 -> 0.375.
    every = _row(table, "stage1_vs_base", "pass_at_1", "all")
    assert (every["units"], every["difference"]) == (4, 0.375)
    expected = paired_difference(
        [0.0, 0.0, 0.0, 0.5],  # sorted by (question_id, language): q1 cpp, q1 py, q2 cpp, q2 py
        [0.0, 0.5, 1.0, 0.5],
        resamples=1000,
        seed=0,
    )
    assert (every["ci_low"], every["ci_high"]) == (expected.ci_low, expected.ci_high)
    # stage2 against the model before it, not only against base.
    step = _row(table, "stage2_vs_stage1", "pass_at_1", "cpp")
    assert (step["baseline"], step["variant"], step["difference"]) == ("stage1", "stage2", 0.25)


def test_paired_comparison_of_the_reference_loss_is_token_weighted_by_reference():
    table = _comparison()
    python = _row(table, "stage1_vs_base", "reference_loss", "python")
    # base: (10 + 30) / 30 tokens; stage1: (9 + 28) / 30: the loss per token of reference_loss.
    assert python["baseline_mean"] == pytest.approx(40 / 30)
    assert python["variant_mean"] == pytest.approx(37 / 30)
    assert python["temperature"] is None and python["unit"] == "reference"
    # Both references lose 0.1 per token: every resample says -0.1.
    assert python["difference"] == pytest.approx(-0.1)
    assert python["ci_low"] == pytest.approx(-0.1) and python["ci_high"] == pytest.approx(-0.1)
    every = _row(table, "stage1_vs_base", "reference_loss", "all")
    assert every["units"] == 3
    assert every["difference"] == pytest.approx(43 / 35 - 45 / 35)
    assert every["ci_low"] < 0 < every["ci_high"] and not every["significant"]
    one = _row(table, "stage1_vs_base", "reference_loss", "cpp")
    assert one["units"] == 1 and not one["significant"]  # one reference shows no spread


def test_paired_comparison_reports_what_it_could_not_pair():
    problems = {
        "base": _problem_results("base", [0.0, 0.5], [0.0, 0.0]),
        "stage1": pl.DataFrame(),  # evaluated nothing
        "stage2": _problem_results("stage2", [1.0, 1.0], [0.5, 1.0], t=0.2),
    }
    losses = {name: pl.DataFrame(schema=_token_losses([1.0] * 3).schema) for name in problems}
    table = _comparison(problems=problems, losses=losses)
    # No reference losses at all: no reference_loss rows. stage1 has no problems: 0-unit rows at
    # base's temperature; stage2 sampled at another temperature than base: nothing shared there.
    assert "reference_loss" not in table["metric"].to_list()
    stage1 = table.filter(pl.col("comparison") == "stage1_vs_base")
    assert stage1.height == 6 and (stage1["units"] == 0).all()
    assert stage1["label"].unique().to_list() == ["n/a (no shared units)"]
    stage2 = table.filter(pl.col("comparison") == "stage2_vs_base")
    assert sorted(set(stage2["temperature"])) == [0.2, 0.6] and (stage2["units"] == 0).all()
    with pytest.raises(ValueError, match="no tables"):
        _comparison(pairs=[("stage3", "base")])
