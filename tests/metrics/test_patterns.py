"""Statistics of reasoning patterns: the stratified sample, Fisher's exact test,
Benjamini-Hochberg, Cohen's kappa, the Mann-Whitney entropy comparison, the summary and the flat
MLflow metrics."""

from __future__ import annotations

import sys

import polars as pl
import pytest

from ocr2_kedro.metrics.patterns import (
    ENTROPY_OFF,
    benjamini_hochberg,
    build_summary,
    cohen_kappa,
    compare_entropy,
    fisher_test,
    metrics,
    stratified_sample,
)
from ocr2_kedro.patterns.behaviours import behaviours_named


def outcomes(passed: int, failed: int, excluded: int = 0) -> pl.DataFrame:
    groups = ["passed"] * passed + ["failed"] * failed + [None] * excluded
    return pl.DataFrame(
        {"generation_id": [f"g{i:03d}" for i in range(len(groups))], "outcome": groups},
        schema={"generation_id": pl.String, "outcome": pl.String},
    )


def test_stratified_sample_balances_groups_and_is_seeded():
    table = outcomes(10, 30, excluded=5)
    sample = stratified_sample(table, 8, seed=1)
    assert dict(sample.group_by("outcome").len().iter_rows()) == {"passed": 4, "failed": 4}
    # The same rows whatever the table's order; another seed draws others.
    assert stratified_sample(table.reverse(), 8, seed=1).equals(sample)
    assert not stratified_sample(table, 8, seed=2).equals(sample)
    # A short group's share goes to the other; excluded rows are never drawn.
    short = stratified_sample(outcomes(2, 30, excluded=5), 8, seed=1)
    assert dict(short.group_by("outcome").len().iter_rows()) == {"passed": 2, "failed": 6}
    everything = stratified_sample(table, None, seed=1)
    assert everything.height == 40 and everything["outcome"].null_count() == 0


def test_fisher_exact_on_the_tea_tasting_table():
    # Fisher's lady tasting tea: [[3, 1], [1, 3]], two-sided p = 34/70, odds ratio 9.
    result = fisher_test(3, 4, 1, 4)
    assert result["p"] == pytest.approx(34 / 70)
    assert result["odds_ratio"] == pytest.approx(9.0)
    assert fisher_test(0, 0, 1, 4) == {"odds_ratio": None, "p": None}
    assert fisher_test(4, 4, 0, 4)["odds_ratio"] is None  # infinite: undefined in JSON


def test_benjamini_hochberg_against_a_hand_computed_example():
    # Sorted 0.005, 0.01, 0.03, 0.04 (m = 4): p * m / rank = 0.02, 0.02, 0.04, 0.04, then the
    # running minimum from the largest rank down changes nothing.
    adjusted = benjamini_hochberg([0.01, None, 0.04, 0.03, 0.005])
    assert adjusted[1] is None
    assert adjusted[0] == pytest.approx(0.02)
    assert adjusted[2] == pytest.approx(0.04)
    assert adjusted[3] == pytest.approx(0.04)
    assert adjusted[4] == pytest.approx(0.02)
    # The running minimum matters: 0.02 * 2 / 1 = 0.04 > 0.03 * 2 / 2 = 0.03.
    assert benjamini_hochberg([0.02, 0.03]) == pytest.approx([0.03, 0.03])
    assert benjamini_hochberg([None, None]) == [None, None]


def test_cohen_kappa_with_and_without_sklearn(monkeypatch):
    first = [True, True, False, False, True, False]
    second = [True, False, False, False, True, True]
    # Observed 4/6, chance 0.5 * 0.5 + 0.5 * 0.5 = 0.5: kappa = (2/3 - 1/2) / (1/2) = 1/3.
    assert cohen_kappa(first, second) == pytest.approx(1 / 3)
    monkeypatch.setitem(sys.modules, "sklearn.metrics", None)  # the formula's path
    assert cohen_kappa(first, second) == pytest.approx(1 / 3)
    assert cohen_kappa([True] * 3, [True] * 3) is None  # chance agreement 1: undefined
    assert cohen_kappa([], []) is None
    with pytest.raises(ValueError, match="same items"):
        cohen_kappa([True], [])


def test_entropy_comparison_uses_mann_whitney():
    from scipy.stats import mannwhitneyu

    passed, failed = [1.3, 1.25, 1.4, 1.2], [1.1, 1.0, 1.15]
    result = compare_entropy(passed, failed, min_group_size=3)
    expected = mannwhitneyu(passed, failed, alternative="two-sided")
    assert result["u"] == expected.statistic == 12.0  # every passed entropy above every failed
    assert result["p"] == pytest.approx(expected.pvalue)
    assert result["passed"] == {"n": 4, "mean": pytest.approx(1.2875), "median": 1.275}
    assert result["failed"]["median"] == 1.1
    assert result["too_small"] is False
    assert compare_entropy(passed, [], 3)["p"] is None


def labels_table() -> pl.DataFrame:
    """Ten passed and ten failed traces with known labels for two behaviours."""
    rows = []
    for i in range(20):
        passed = i < 10
        rows.append(
            {
                "generation_id": f"g{i}",
                "outcome": "passed" if passed else "failed",
                "truncated_chars": 5 if i == 0 else 0,
                # lexical subgoal: 8/10 passed, 2/10 failed
                "lexical_subgoal_setting": (i < 8) if passed else (i < 12),
                "lexical_subgoal_setting_per_1k": 2.0 if passed else 1.0,
                # llm subgoal: as lexical, except two unparsed answers among the failed
                "llm_subgoal_setting": None if i >= 18 else ((i < 8) if passed else (i < 12)),
                "lexical_backtracking": i % 2 == 0,
                "lexical_backtracking_per_1k": 0.0,
                "llm_backtracking": i % 2 == 0,
                "llm_finish_reason": "stop",
                "llm_unparsed": 1 if i >= 18 else 0,
            }
        )
    return pl.DataFrame(rows)


def summary_of(labels: pl.DataFrame, *, min_group_size: int = 5, embedded: bool = False) -> dict:
    """The summary of `labels` (subgoal setting, backtracking) as the patterns pipeline builds it."""
    return build_summary(
        labels,
        population={"passed": 100, "failed": 300, "excluded": 4},
        entropy={"available": False, "note": ENTROPY_OFF},
        run={
            "critic_model": "critic",
            "embedded": embedded,
            "min_group_size": min_group_size,
            "seed": 1,
        },
        behaviours=behaviours_named(["subgoal_setting", "backtracking"]),
    )


def test_summary_counts_frequencies_tests_and_agreement():
    summary = summary_of(labels_table())
    subgoal = summary["behaviours"]["subgoal_setting"]
    lexical = subgoal["lexical"]
    assert lexical["passed"] == {"n": 10, "k": 8, "freq": 0.8}
    assert lexical["failed"] == {"n": 10, "k": 2, "freq": 0.2}
    assert lexical["diff"] == pytest.approx(0.6)
    assert lexical["p"] == pytest.approx(fisher_test(8, 10, 2, 10)["p"])
    assert lexical["per_1k_words"] == {"passed": 2.0, "failed": 1.0}
    # Unparsed LLM labels leave their traces out of n (8 failed, not 10) and are counted.
    llm = subgoal["llm"]
    assert llm["failed"] == {"n": 8, "k": 2, "freq": 0.25}
    assert llm["unparsed"] == 2
    # BH across the two behaviours of one method.
    p_backtracking = summary["behaviours"]["backtracking"]["lexical"]["p"]
    assert p_backtracking == pytest.approx(1.0)
    assert lexical["p_adj"] == pytest.approx(benjamini_hochberg([lexical["p"], p_backtracking])[0])
    assert subgoal["agreement"] == {"n": 18, "percent": 100.0, "kappa": pytest.approx(1.0)}
    assert summary["sample"] == {"traces": 20, "passed": 10, "failed": 10, "truncated": 1}
    assert summary["llm"]["unparsed_labels"] == 2 and summary["llm"]["errors"] == 0
    flat = metrics(summary)
    assert flat["subgoal_setting_lexical_passed"] == 0.8
    assert flat["subgoal_setting_kappa"] == pytest.approx(1.0)
    assert not any("@" in name for name in flat)


def test_unjudged_samples_are_neither_passed_nor_failed():
    """verdict null (verify's "unjudged" rows, a problem that needs a checker and ships none) and SE
    belong to no group, like unverified samples."""
    from ocr2_kedro.metrics.patterns import outcome

    verdicts = pl.DataFrame(
        {"verdict": ["AC", "WA", None, "SE", "TLE"]}, schema={"verdict": pl.String}
    )
    assert verdicts.select(outcome(pl.col("verdict")).alias("o"))["o"].to_list() == [
        "passed",
        "failed",
        None,
        None,
        "failed",
    ]
