"""The metrics engine against hand-worked values and brute-force enumeration of k-subsets."""

from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction

import numpy as np
import polars as pl
import pytest

from ocr2_kedro import metrics
from ocr2_kedro.metrics import (
    FALLBACKS,
    bootstrap_interval,
    critic_agreement,
    critique_at_k,
    mean_with_stderr,
    pass_at_k,
    problem_metrics,
    select_at_k,
    summarize_problem_metrics,
)

T, F = True, False


# --- pass@k ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (10, 1, 5, 0.5),  # 1 - C(9,5)/C(10,5) = 1 - 126/252
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
        (6, 3, 2, 0.8),  # 1 - C(3,2)/C(6,2) = 1 - 3/15
    ],
)
def test_pass_at_k_hand_values(n, c, k, expected):
    assert math.isclose(pass_at_k(n, c, k), expected, abs_tol=1e-12)


def test_pass_at_k_edges():
    assert pass_at_k(10, 0, 3) == 0.0
    assert pass_at_k(10, 10, 3) == 1.0
    assert pass_at_k(10, 8, 3) == 1.0  # n - c = 2 < k: every 3-subset holds a pass
    for n in range(1, 12):
        for c in range(n + 1):
            assert math.isclose(pass_at_k(n, c, 1), c / n, abs_tol=1e-12)


def test_pass_at_k_matches_exact_binomials_at_large_n():
    for n, c, k in [(200, 7, 50), (64, 3, 16), (128, 60, 64)]:
        exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
        assert math.isclose(pass_at_k(n, c, k), float(exact), abs_tol=1e-12)


@pytest.mark.parametrize(
    ("n", "c", "k", "message"),
    [
        (3, 1, 4, "at least k samples"),
        (3, 1, 0, "k >= 1"),
        (3, -1, 1, "0 <= c <= n"),
        (3, 4, 1, "0 <= c <= n"),
    ],
)
def test_pass_at_k_rejects_bad_arguments(n, c, k, message):
    with pytest.raises(ValueError, match=message):
        pass_at_k(n, c, k)


# --- pass@1|select@k ------------------------------------------------------------------------


def brute_select(passed, right, lengths, k, fallback) -> Fraction:
    """Expected pass of the selected sample, enumerating every k-subset."""

    def shortest(idx):
        best = min(lengths[i] for i in idx)
        ties = [i for i in idx if lengths[i] == best]
        return Fraction(sum(passed[i] for i in ties), len(ties))

    total = Fraction(0)
    subsets = list(itertools.combinations(range(len(passed)), k))
    for subset in subsets:
        approved = [i for i in subset if right[i]]
        if approved:
            total += shortest(approved)
        elif fallback == "random":
            total += Fraction(sum(passed[i] for i in subset), k)
        elif fallback == "shortest":
            total += shortest(subset)
    return total / len(subsets)


def test_select_at_k_matches_brute_force_on_random_instances():
    rng = random.Random(7)
    for _ in range(150):
        n = rng.randint(1, 8)
        passed = [rng.random() < 0.5 for _ in range(n)]
        right = [rng.random() < 0.5 for _ in range(n)]
        lengths = [rng.choice([1, 2, 3, 5.5]) for _ in range(n)]  # few values: many ties
        for k in range(1, n + 1):
            for fallback in FALLBACKS:
                got = select_at_k(passed, right, lengths, k, fallback=fallback)
                want = brute_select(passed, right, lengths, k, fallback)
                assert math.isclose(got, float(want), rel_tol=1e-12, abs_tol=1e-12), (
                    passed,
                    right,
                    lengths,
                    k,
                    fallback,
                )


def test_select_at_k_hand_worked_all_subsets_have_an_approved_sample():
    # (pass, right, len) = (T,T,10), (F,T,5), (F,F,1), k=2:
    # {0,1} -> picks 1 (len 5, fails) = 0; {0,2} -> picks 0 = 1; {1,2} -> picks 1 = 0.
    # Expected 1/3, whatever the fallback (no subset lacks an approved sample).
    for fallback in FALLBACKS:
        got = select_at_k([T, F, F], [T, T, F], [10, 5, 1], 2, fallback=fallback)
        assert math.isclose(got, 1 / 3, abs_tol=1e-12)


@pytest.mark.parametrize(
    ("fallback", "expected"), [("random", 5 / 6), ("shortest", 1.0), ("fail", 2 / 3)]
)
def test_select_at_k_hand_worked_fallbacks(fallback, expected):
    # (pass, right, len) = (T,F,1), (F,F,3), (T,T,2), k=2:
    # {0,2} and {1,2} pick 2 (passes) = 1 each; {0,1} has no approved sample:
    # random -> (1 + 0)/2, shortest -> sample 0 (len 1, passes) = 1, fail -> 0.
    # random (1 + 1 + 1/2)/3 = 5/6, shortest 3/3 = 1, fail 2/3.
    got = select_at_k([T, F, T], [F, F, T], [1, 3, 2], 2, fallback=fallback)
    assert math.isclose(got, expected, abs_tol=1e-12)


def test_select_at_k_unparseable_judgement_is_not_right():
    # Sample 0 passes but its judgement is None: only sample 1 (fails) is ever picked when present.
    # k=1: {0} -> random fallback = 1, {1} -> 0, so 1/2; with "fail", {0} -> 0.
    assert select_at_k([T, F], [None, T], [1, 2], 1, fallback="random") == 0.5
    assert select_at_k([T, F], [None, T], [1, 2], 1, fallback="fail") == 0.0


def test_select_at_k_properties():
    rng = random.Random(3)
    for _ in range(40):
        n = rng.randint(1, 64)
        passed = [rng.random() < 0.3 for _ in range(n)]
        lengths = [rng.randint(1, 4) for _ in range(n)]
        c = sum(passed)
        for k in {1, min(2, n), max(1, n // 2), n}:
            # Everything approved and equally long: a uniform pick from S, i.e. pass@1.
            uniform = select_at_k(passed, [T] * n, [7] * n, k)
            assert math.isclose(uniform, c / n, abs_tol=1e-12)
            # A perfect critic finds a pass whenever S holds one: pass@k, whatever the fallback.
            for fallback in FALLBACKS:
                perfect = select_at_k(passed, passed, lengths, k, fallback=fallback)
                assert math.isclose(perfect, pass_at_k(n, c, k), abs_tol=1e-12)
        # k=1 with a random fallback picks each sample with probability 1/n.
        right = [rng.random() < 0.5 for _ in range(n)]
        assert math.isclose(select_at_k(passed, right, lengths, 1), c / n, abs_tol=1e-12)


def test_select_at_k_accepts_numpy_and_polars_inputs():
    passed = np.array([T, F, F])
    right = pl.Series([T, T, None])
    lengths = np.array([10, 5, 1])
    assert math.isclose(select_at_k(passed, right, lengths, 2), 1 / 3, abs_tol=1e-12)


def test_select_at_k_rejects_bad_arguments():
    with pytest.raises(ValueError, match="at least k samples"):
        select_at_k([T, F], [T, F], [1, 2], 3)
    with pytest.raises(ValueError, match="one entry per sample"):
        select_at_k([T, F], [T], [1, 2], 1)
    with pytest.raises(ValueError, match="unknown fallback"):
        select_at_k([T, F], [T, F], [1, 2], 1, fallback="longest")
    with pytest.raises(ValueError, match="booleans"):
        select_at_k([T, F], ["right", "wrong"], [1, 2], 1)
    with pytest.raises(ValueError, match="numbers"):
        select_at_k([T, F], [T, F], [1, float("nan")], 1)


# --- critique@k and critic agreement --------------------------------------------------------


def test_critique_at_k_hand_values():
    # Passed and judged right: only sample 0, so c_both = 1 of n = 4.
    passed, right = [T, T, F, F], [T, F, T, None]
    assert math.isclose(critique_at_k(passed, right, 1), 0.25, abs_tol=1e-12)
    # k=2: 1 - C(3,2)/C(4,2) = 1 - 3/6 = 0.5
    assert math.isclose(critique_at_k(passed, right, 2), 0.5, abs_tol=1e-12)
    assert critique_at_k(passed, right, 4) == 1.0
    assert critique_at_k([T, T], [F, None], 2) == 0.0


def test_critic_agreement_confusion_matrix():
    # passed: T T T F F F F; right: T T F T F F None -> tp 2, fn 1, fp 1, tn 3.
    got = critic_agreement([T, T, T, F, F, F, F], [T, T, F, T, F, F, None])
    assert {k: got[k] for k in ("tp", "fp", "fn", "tn", "n")} == {
        "tp": 2,
        "fp": 1,
        "fn": 1,
        "tn": 3,
        "n": 7,
    }
    assert math.isclose(got["accuracy"], 5 / 7)
    assert math.isclose(got["precision"], 2 / 3)
    assert math.isclose(got["recall"], 2 / 3)


def test_critic_agreement_undefined_ratios_are_nan():
    got = critic_agreement([F, F], [F, None])  # nothing judged right, nothing passed
    assert got["accuracy"] == 1.0
    assert math.isnan(got["precision"]) and math.isnan(got["recall"])
    assert math.isnan(critic_agreement([], [])["accuracy"])


# --- per-problem metrics ----------------------------------------------------------------------


def test_problem_metrics_keys_and_values():
    passed, right, lengths = [T, F, F, T], [T, T, F, F], [10, 5, 1, 3]
    got = problem_metrics(passed, right, lengths, ks=[1, 2, 8])
    assert set(got) == {
        "pass_at_1",
        "pass_at_1_select_at_1",
        "random_select_at_1",
        "critique_at_1",
        "pass_at_2",
        "pass_at_1_select_at_2",
        "random_select_at_2",
        "critique_at_2",
    }  # k=8 > n=4 is skipped
    assert not any("@" in key for key in got)
    assert got["pass_at_1"] == 0.5 == got["random_select_at_2"]
    assert got["pass_at_2"] == pass_at_k(4, 2, 2)
    assert got["pass_at_1_select_at_2"] == select_at_k(passed, right, lengths, 2)
    assert got["critique_at_2"] == pass_at_k(4, 1, 2)


# --- aggregation ------------------------------------------------------------------------------


def test_mean_with_stderr():
    mean, stderr = mean_with_stderr([1, 2, 3, 4])
    # sample variance 5/3, stderr sqrt(5/3)/sqrt(4)
    assert mean == 2.5 and math.isclose(stderr, math.sqrt(5 / 3) / 2)
    assert mean_with_stderr([0.3]) == (0.3, 0.0)
    assert all(math.isnan(x) for x in mean_with_stderr([]))


def test_bootstrap_interval_is_seeded_and_contains_the_mean(monkeypatch):
    values = np.random.default_rng(1).random(50)
    first = bootstrap_interval(values, seed=4)
    assert first == bootstrap_interval(values, seed=4)
    assert first != bootstrap_interval(values, seed=5)
    low, high = first
    assert low < values.mean() < high
    narrow = bootstrap_interval(values, confidence=0.5, seed=4)
    assert low <= narrow[0] <= narrow[1] <= high
    assert bootstrap_interval([0.25] * 10) == (0.25, 0.25)
    assert all(math.isnan(x) for x in bootstrap_interval([]))
    # Drawing the resamples in chunks (bounded memory at large P) still gives a seeded answer.
    monkeypatch.setattr(metrics.aggregate, "_BOOTSTRAP_CHUNK", 7 * 50)
    chunked = bootstrap_interval(values, seed=4)
    assert chunked == bootstrap_interval(values, seed=4)
    assert low - 0.05 < chunked[0] < chunked[1] < high + 0.05
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_interval(values, confidence=1.0)


def test_summarize_problem_metrics_groups_and_weighs_problems_equally():
    rows = pl.DataFrame(
        {
            "model": ["a", "a", "a", "b", "b"],
            "language": ["python"] * 5,
            "question_id": ["q1", "q2", "q3", "q1", "q2"],
            "pass_at_1": [1.0, 0.0, 0.5, 0.25, 0.75],
            "pass_at_4": [1.0, 0.0, None, 1.0, float("nan")],
        }
    )
    got = summarize_problem_metrics(
        rows, ["model", "language"], ["pass_at_1", "pass_at_4"], resamples=200
    )
    assert got.columns == [
        "model",
        "language",
        "metric",
        "mean",
        "stderr",
        "ci_low",
        "ci_high",
        "problems",
    ]
    assert got.select("model", "metric", "problems").rows() == [
        ("a", "pass_at_1", 3),
        ("a", "pass_at_4", 2),
        ("b", "pass_at_1", 2),
        ("b", "pass_at_4", 1),
    ]
    means = dict(zip(got["model"] + "/" + got["metric"], got["mean"], strict=True))
    assert means == {"a/pass_at_1": 0.5, "a/pass_at_4": 0.5, "b/pass_at_1": 0.5, "b/pass_at_4": 1.0}
    one = got.filter(model="a", metric="pass_at_1").row(0, named=True)
    assert (one["mean"], one["stderr"]) == mean_with_stderr([1.0, 0.0, 0.5])
    assert (one["ci_low"], one["ci_high"]) == bootstrap_interval([1.0, 0.0, 0.5], resamples=200)
    assert got.filter(model="b", metric="pass_at_4")["stderr"].item() == 0.0
    # No grouping and metric_columns=None: every numeric column over all rows.
    overall = summarize_problem_metrics(rows, [], None, resamples=50)
    assert overall["metric"].to_list() == ["pass_at_1", "pass_at_4"]
    assert overall["problems"].to_list() == [5, 3]
    with pytest.raises(ValueError, match="missing"):
        summarize_problem_metrics(rows, ["split"], ["pass_at_1"])
