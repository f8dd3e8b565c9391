"""What a paired comparison shows: the markdown marks a difference whose interval holds 0 as
"n.s.", the plot draws each difference with its interval around a 0 line, and the MLflow names
follow the per-model headline names."""

from __future__ import annotations

import math

import polars as pl
import pytest

from ocr2_kedro.metrics.paired import DIFFERENCES
from ocr2_kedro.reporting.differences import (
    difference_metrics,
    differences_markdown,
    differences_plot,
    metric_stem,
    report_differences,
)


def _row(comparison, metric, language, temperature, difference, low, high, units=4) -> dict:
    significant = low > 0 or high < 0
    label = f"{difference:+.3f} [{low:+.3f}, {high:+.3f}]" + ("" if significant else " (n.s.)")
    return {
        "comparison": comparison,
        "variant": comparison.split("_vs_")[0],
        "baseline": comparison.split("_vs_")[1],
        "metric": metric,
        "language": language,
        "temperature": temperature,
        "unit": "problem" if temperature is not None else "reference",
        "units": units,
        "baseline_mean": 0.5,
        "variant_mean": 0.5 + difference,
        "difference": difference,
        "ci_low": low,
        "ci_high": high,
        "confidence": 0.95,
        "significant": significant,
        "label": label if units else "n/a (no shared units)",
    }


def _table() -> pl.DataFrame:
    return pl.DataFrame(
        [
            _row("stage1_vs_base", "pass_at_1", "python", 0.6, 0.25, 0.05, 0.45),
            _row("stage1_vs_base", "pass_at_1", "all", 0.6, 0.1, -0.05, 0.3),
            _row("stage1_vs_base", "reference_loss", "python", None, -0.2, -0.3, -0.1, 12),
            _row("stage2_vs_base", "pass_at_1", "python", 0.6, 0.0, -0.1, 0.1),
            _row("stage2_vs_base", "pass_at_1", "all", 0.6, math.nan, math.nan, math.nan, 0),
        ],
        schema=DIFFERENCES,
    )


def test_metric_names_follow_the_headline_names():
    rows = list(_table().iter_rows(named=True))
    assert metric_stem(rows[0]) == "stage1_vs_base.python.t0.6.pass_at_1"
    assert metric_stem(rows[2]) == "stage1_vs_base.python.reference_loss"
    odd = {**rows[0], "comparison": "big (v2)+lr_vs_base"}
    assert metric_stem(odd) == "big _v2__lr_vs_base.python.t0.6.pass_at_1"


def test_mlflow_metrics_hold_the_difference_its_interval_and_whether_it_is_real():
    logged = difference_metrics(_table())
    assert logged["stage1_vs_base.python.t0.6.pass_at_1.difference"] == {"value": 0.25, "step": 0}
    assert logged["stage1_vs_base.python.t0.6.pass_at_1.ci_low"]["value"] == 0.05
    assert logged["stage1_vs_base.python.t0.6.pass_at_1.ci_high"]["value"] == 0.45
    assert logged["stage1_vs_base.python.t0.6.pass_at_1.significant"]["value"] == 1.0
    assert logged["stage1_vs_base.all.t0.6.pass_at_1.significant"]["value"] == 0.0
    assert logged["stage1_vs_base.python.reference_loss.difference"]["value"] == -0.2
    # Nothing shared, nothing logged (MLflow would refuse NaN in some stores; 0 would lie).
    assert not any(name.startswith("stage2_vs_base.all") for name in logged)
    assert len(logged) == 4 * 4


def test_the_markdown_marks_what_is_not_significant():
    markdown = differences_markdown("Evaluation: paired differences", _table(), resamples=1000)
    assert markdown.startswith("# Evaluation: paired differences\n")
    assert "95% percentile bootstrap over 1000 resamples" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| stage")]
    assert len(rows) == 5
    assert rows[0].endswith("| +0.250 [+0.050, +0.450] |")  # excludes 0: no mark
    assert rows[1].endswith("| +0.100 [-0.050, +0.300] (n.s.) |")
    assert "| reference_loss | python |  | reference | 12 |" in rows[2]
    assert rows[4].endswith("| n/a (no shared units) |")
    assert "Higher is better except for reference_loss" in markdown
    empty = differences_markdown("Ablations", pl.DataFrame(schema=DIFFERENCES), resamples=10)
    assert "Nothing to compare" in empty


def test_the_plot_draws_differences_with_their_intervals_around_zero():
    figure = differences_plot("Evaluation", _table())
    # One panel per metric, one bar trace per comparison in each.
    assert [a.text for a in figure.layout.annotations] == [
        "pass_at_1 (higher is better)",
        "reference_loss (lower is better)",
    ]
    bars = [(trace.name, trace.yaxis) for trace in figure.data]
    assert bars == [("stage1_vs_base", "y"), ("stage2_vs_base", "y"), ("stage1_vs_base", "y2")]
    first = figure.data[0]
    assert list(first.x) == ["python", "all"] and list(first.y) == [0.25, 0.1]
    assert list(first.error_y.array) == pytest.approx([0.2, 0.2])
    assert list(first.error_y.arrayminus) == pytest.approx([0.2, 0.15])
    assert list(first.text) == ["", "n.s."]
    # No shared units: no bar (None), not a bar at 0.
    assert list(figure.data[1].y) == [0.0, None]
    zero_lines = [shape for shape in figure.layout.shapes if shape.y0 == 0 and shape.y1 == 0]
    assert len(zero_lines) == 2
    markdown, same, metrics = report_differences("Evaluation", _table(), resamples=1000)
    assert same.to_dict() == figure.to_dict() and "(n.s.)" in markdown and metrics
