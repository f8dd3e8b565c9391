from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import polars as pl

from ocr2_kedro.reporting.summary import metric_rows, rejects_by_reason, row_count, stage_summary
from ocr2_kedro.schemas import reject, rejects_frame

REJECTS = rejects_frame(
    [
        reject(stage="ingestion", source="taco", record_id="1", reason="no_tests"),
        reject(stage="ingestion", source="apps", record_id="2", reason="no_tests"),
        reject(stage="ingestion", source="apps", record_id="3", reason="duplicate_question"),
    ]
)


def test_rows_count_eager_and_lazy_frames():
    frame = pl.DataFrame({"x": range(5)})
    assert row_count(frame) == 5
    assert row_count(frame.lazy().filter(pl.col("x") > 1)) == 3


def test_rejects_are_counted_by_stage_and_reason_most_first():
    counted = rejects_by_reason({"ingestion_rejects": REJECTS.lazy(), "problems": pl.DataFrame()})
    assert counted.rows() == [
        ("ingestion_rejects", "ingestion", "no_tests", 2),
        ("ingestion_rejects", "ingestion", "duplicate_question", 1),
    ]
    assert rejects_by_reason({"problems": pl.DataFrame({"stage": ["x"], "prompt": ["p"]})}) is None


def test_metric_dicts_become_name_value_rows():
    mlflow = {
        "pass_rate": {"value": 0.5, "step": 0},
        "rows": [{"value": 1, "step": 0}, {"value": 7, "step": 1}],
    }
    assert metric_rows(mlflow).rows() == [("pass_rate", 0.5), ("rows", 7.0)]
    flat = {"python": {"questions": 3, "name": "skipped"}, "ok": True, "n": 2}
    assert metric_rows(flat).rows() == [("python.questions", 3.0), ("n", 2.0)]


def test_stage_summary_renders_every_kind_of_table():
    figure = go.Figure(layout={"title": {"text": "Pass rate by temperature"}})
    text = stage_summary(
        "Ingestion summary",
        {
            "problems": pl.DataFrame({"id": ["a", "b"]}).lazy(),
            "ingestion_rejects": REJECTS,
            "critique_metrics": {"critiques": {"value": 4.0, "step": 0}, "right_rate": 0.25},
            "comparison": pl.DataFrame({"model": ["base"], "pass@1": [0.125]}),
            "card": "\n# The dataset card\n\nbody",
            "plot": figure,
            "dpo_checkpoint": Path("data/06_models/dpo/v1"),
            "benchmark_problems": None,
        },
        shown=["comparison"],
    )
    assert text.startswith("# Ingestion summary\n")
    assert "| problems | 2 |" in text
    assert "| ingestion_rejects | 3 |" in text
    assert "| ingestion_rejects | ingestion | no_tests | 2 |" in text
    assert "## critique_metrics" in text and "| critiques | 4 |" in text
    assert "| right_rate | 0.2500 |" in text
    assert "## comparison" in text and "| base | 0.1250 |" in text
    assert "| card | The dataset card |" in text
    assert "| plot | Pass rate by temperature |" in text
    assert "| dpo_checkpoint | data/06_models/dpo/v1 |" in text
    assert "## Not written by this run\n\n- benchmark_problems" in text


def test_a_stage_without_rejects_says_so():
    text = stage_summary("Dedup summary", {"rejects": REJECTS.clear()})
    assert "## Rejects\n\nNo rejects." in text
