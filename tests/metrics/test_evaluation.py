"""The evaluation scoring engine on hand-made frames: contest-date windows, breakdown groups, the SE
and critic rows of the summary, and the names the headline numbers are logged under."""

from __future__ import annotations

import datetime
import math

import polars as pl
import pytest

from ocr2_kedro.metrics import evaluation as scoring


def _problem_results() -> pl.DataFrame:
    """Three problems of one model: two solved half the time, dated across two windows."""
    return pl.DataFrame(
        {
            "model": ["m"] * 3,
            "question_id": ["q1", "q2", "q3"],
            "language": ["python"] * 3,
            "temperature": [0.6] * 3,
            "n": [2, 2, 1],
            "se_count": [0, 0, 1],
            "pass_at_1": [0.5, 0.0, 1.0],
            "difficulty": ["easy", None, "hard"],
            "contest_date": [
                datetime.date(2024, 7, 31),
                datetime.date(2024, 8, 1),
                datetime.date(2025, 2, 1),
            ],
        }
    )


def _sample_results() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "model": ["m"] * 4,
            "language": ["python"] * 4,
            "temperature": [0.6] * 4,
            "has_solution": [True, True, True, False],
            "system_error": [False, False, True, False],
            "passed": [True, False, False, False],
            "judged_right": [True, True, True, False],
        }
    )


def test_windows_hold_from_inclusive_to_exclusive_and_may_overlap():
    windows = {
        "before": {"to": datetime.date(2024, 8, 1)},
        "v5": {"from": "2024-08-01", "to": "2025-02-01"},
        "v6": {"from": datetime.date(2024, 8, 1), "to": None},
    }
    rows = scoring.in_windows(_problem_results(), windows)
    groups = {
        name: sorted(group["question_id"].to_list())
        for (name,), group in rows.group_by(["group"], maintain_order=True)
    }
    assert groups == {"before": ["q1"], "v5": ["q2"], "v6": ["q2", "q3"]}
    assert set(rows["breakdown"]) == {"window"}


def test_summary_rows_per_breakdown_window_se_and_critic():
    summary = scoring.summarize(
        _problem_results(),
        _sample_results(),
        breakdowns=["difficulty"],
        windows={"v6": {"from": "2024-08-01"}},
        resamples=50,
        seed=0,
    )
    assert summary.columns[: len(scoring.GROUP_COLUMNS)] == list(scoring.GROUP_COLUMNS)

    def mean(breakdown: str, group: str, metric: str, language: str = "python") -> float:
        row = summary.filter(
            (pl.col("breakdown") == breakdown)
            & (pl.col("group") == group)
            & (pl.col("metric") == metric)
            & (pl.col("language") == language)
        )
        return row["mean"].item()

    assert mean("all", "all", "pass_at_1") == pytest.approx(0.5)
    assert mean("difficulty", "unknown", "pass_at_1") == 0.0  # a missing difficulty
    assert mean("window", "v6", "pass_at_1") == pytest.approx(0.5)
    assert mean("all", "all", "se_count", "all") == 1
    assert mean("all", "all", "se_share") == pytest.approx(1 / 6)
    # Critic over samples with code and a verdict: one TP, one FP.
    assert mean("all", "all", "critic_precision") == pytest.approx(0.5)
    assert mean("all", "all", "critic_accuracy", "all") == pytest.approx(0.5)


def test_critic_counts_are_in_every_summary_and_undefined_ratios_are_not_logged():
    """Nothing passed and nothing had code: recall (and accuracy, precision) are undefined and
    left out of MLflow, while the confusion counts say why, 0 in every run."""
    samples = _sample_results().with_columns(
        passed=pl.lit(False), has_solution=pl.Series([True, True, False, False])
    )
    rows = scoring.agreement_rows(samples)
    python = {
        r["metric"]: r["mean"] for r in rows.iter_rows(named=True) if r["language"] == "python"
    }
    assert {k: python[f"critic_{k}"] for k in scoring.AGREEMENT_COUNTS} == {
        "tp": 0,
        "fp": 2,
        "fn": 0,
        "tn": 0,
    }
    assert python["critic_precision"] == 0.0 and python["critic_accuracy"] == 0.0
    assert math.isnan(python["critic_recall"])  # no sample passed
    logged = scoring.headline_metrics(rows, pl.DataFrame(schema={"language": pl.String}))
    assert "python.t0.6.critic_recall" not in logged
    assert logged["python.t0.6.critic_fn"]["value"] == 0

    no_code = scoring.agreement_rows(samples.with_columns(has_solution=pl.lit(False)))
    by_metric = dict(no_code.filter(pl.col("language") == "all").select("metric", "mean").rows())
    assert [by_metric[f"critic_{k}"] for k in scoring.AGREEMENT_COUNTS] == [0, 0, 0, 0]
    assert all(math.isnan(by_metric[f"critic_{k}"]) for k in ("accuracy", "precision", "recall"))


def test_no_problem_results_give_an_empty_summary():
    empty = scoring.summarize(
        pl.DataFrame(), _sample_results(), breakdowns=[], windows=None, resamples=10, seed=0
    )
    assert empty.is_empty()


def test_headline_metrics_are_named_without_breakdowns_and_skip_nan():
    summary = pl.DataFrame(
        {
            "language": ["python", "python", "cpp"],
            "temperature": [0.6, 0.6, 0.2],
            "breakdown": ["all", "difficulty", "all"],
            "metric": ["pass_at_1", "pass_at_1", "pass_at_1"],
            "mean": [0.25, 0.5, float("nan")],
            "stderr": [0.1, 0.2, None],
        }
    )
    loss = pl.DataFrame({"language": ["python", "cpp"], "loss_per_token": [1.5, None]})
    assert scoring.headline_metrics(summary, loss) == {
        "python.t0.6.pass_at_1": {"value": 0.25, "step": 0},
        "python.t0.6.pass_at_1_stderr": {"value": 0.1, "step": 0},
        "python.reference_loss": {"value": 1.5, "step": 0},
    }


def test_critique_length_counts_the_reasoning_else_the_whole_critique():
    assert scoring.critique_length("  short  ", "a much longer critique") == 5
    assert scoring.critique_length("", " Judgement: right ") == len("Judgement: right")
