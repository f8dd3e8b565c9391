"""MlflowReportDataset: one catalog entry for a report kept on disk (versioned with the run) and
logged to the MLflow run."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import mlflow
import plotly.graph_objects as go
import polars as pl
import pytest
from kedro.io import DataCatalog

from ocr2_kedro.datasets import MlflowReportDataset


def _catalog(tmp_path, save_version: str) -> DataCatalog:
    reports = tmp_path / "data" / "08_reporting"
    return DataCatalog.from_config(
        {
            "card": {
                "type": "ocr2_kedro.datasets.MlflowReportDataset",
                "artifact_path": "dataset",
                "versioned": True,
                "dataset": {"type": "text.TextDataset", "filepath": str(reports / "card.md")},
            },
            "plot": {
                "type": "ocr2_kedro.datasets.MlflowReportDataset",
                "artifact_path": "evaluation/base",
                "versioned": True,
                "dataset": {"type": "plotly.JSONDataset", "filepath": str(reports / "plot.json")},
            },
            "table": {
                "type": "ocr2_kedro.datasets.MlflowReportDataset",
                "artifact_path": "evaluation",
                "versioned": True,
                "dataset": {
                    "type": "polars.EagerPolarsDataset",
                    "file_format": "csv",
                    "filepath": str(reports / "comparison.csv"),
                },
            },
            # An ordinary versioned entry of the same run: the catalog allows one save version.
            "other": {
                "type": "text.TextDataset",
                "filepath": str(reports / "other.txt"),
                "versioned": True,
            },
        },
        save_version=save_version,
    )


@pytest.fixture
def tracking(tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = mlflow.create_experiment("reports", artifact_location=str(tmp_path / "artifacts"))
    yield experiment
    mlflow.set_tracking_uri(None)


def test_saves_with_the_run_version_and_logs_the_file_to_the_active_run(tmp_path, tracking):
    version = "2026-01-02T03.04.05.678Z"
    catalog = _catalog(tmp_path, version)
    figure = go.Figure(go.Bar(x=["a"], y=[1], name="bars"))
    table = pl.DataFrame({"model": ["base"], "pass_at_1": [0.5]})
    with mlflow.start_run(experiment_id=tracking) as run:
        catalog.save("card", "# Card\n")
        catalog.save("plot", figure)
        catalog.save("table", table)
        catalog.save("other", "x")

    reports = tmp_path / "data" / "08_reporting"
    # On disk: each wrapped format, in the run's version folder, loaded back as it was saved.
    assert (reports / "card.md" / version / "card.md").read_text() == "# Card\n"
    assert json.loads((reports / "plot.json" / version / "plot.json").read_text())["data"]
    assert catalog.load("card") == "# Card\n"
    assert [bar.name for bar in catalog.load("plot").data] == ["bars"]
    assert catalog.load("table").equals(table)
    assert catalog.get("card").resolve_load_version() == version

    # On the MLflow run: the same file, except the figure, logged as HTML that MLflow draws.
    client = mlflow.MlflowClient()
    logged = {
        artifact.path
        for folder in ("dataset", "evaluation", "evaluation/base")
        for artifact in client.list_artifacts(run.info.run_id, folder)
        if not artifact.is_dir
    }
    assert logged == {"dataset/card.md", "evaluation/comparison.csv", "evaluation/base/plot.html"}
    page = client.download_artifacts(run.info.run_id, "evaluation/base/plot.html", str(tmp_path))
    assert "<html>" in Path(page).read_text()


def test_kedro_viz_previews_what_the_wrapped_dataset_previews(tmp_path):
    catalog = _catalog(tmp_path, "2026-01-02T03.04.05.678Z")
    catalog.get("plot")._logging_activated = False
    catalog.save("plot", go.Figure(go.Bar(x=["a"], y=[1])))
    plot = catalog.get("plot")
    # kedro viz picks the preview by the method's return annotation, and shows the file path.
    annotation = inspect.signature(plot.preview).return_annotation
    assert getattr(annotation, "__name__", str(annotation)) == "PlotlyPreview"
    assert plot.preview()["data"]
    assert str(plot._describe()["filepath"]).endswith("plot.json")


def test_logging_switched_off_saves_locally_only(tmp_path, tracking):
    card = MlflowReportDataset(
        dataset={"type": "text.TextDataset", "filepath": str(tmp_path / "card.md")},
        artifact_path="dataset",
    )
    card._logging_activated = False  # what kedro-mlflow does when tracking is disabled
    with mlflow.start_run(experiment_id=tracking) as run:
        card.save("text")
    assert (tmp_path / "card.md").read_text() == "text"
    assert not mlflow.MlflowClient().list_artifacts(run.info.run_id)
