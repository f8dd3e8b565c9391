"""The walking skeleton end to end: `kedro run --env test` in a fresh project copy, tracked in MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import polars as pl
import pytest

from tests.conftest import run_kedro


def latest_version(path):
    versions = sorted(p.name for p in path.iterdir())
    assert versions, f"no version saved under {path}"
    return versions[-1]


@pytest.mark.slow
def test_distill_run_writes_versioned_dataset_and_mlflow_run(project_copy):
    run_kedro(project_copy, "run", "--env", "test", "--pipelines", "distill")

    export_dir = project_copy / "data" / "03_primary" / "ocr2" / "python.parquet"
    version = latest_version(export_dir)
    export = pl.read_parquet(export_dir / version / "python.parquet")
    problems = pl.read_parquet(
        next(
            (project_copy / "data" / "03_primary" / "problems_dedup.parquet").glob(
                "*/problems_dedup.parquet"
            )
        )
    )
    assert export.height >= problems.height  # at least one sample per training question
    assert {"question", "r1_generation", "solution", "pass_rate", "question_id"} <= set(
        export.columns
    )
    assert export["pass_rate"].is_not_null().all()

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project_copy / 'mlflow.db'}")
    [experiment] = [e for e in client.search_experiments() if e.name == "ocr2_kedro_test"]
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["generation.backend"] == "transformers"
    assert (
        run.data.metrics["dataset.samples"]
        == export.height
        + pl.read_parquet(
            next(
                (project_copy / "data" / "03_primary" / "ocr2" / "cpp.parquet").glob(
                    "*/cpp.parquet"
                )
            )
        ).height
    )
    # Lineage: the run says which dataset versions it wrote and read.
    assert run.data.tags["data.written.ocr2_export_python"] == version
    assert run.data.tags["data.read.generations"] == run.data.tags["data.written.generations"]
    downloaded = client.download_artifacts(
        run.info.run_id, "dataset_versions.json", str(project_copy)
    )
    versions = json.loads(Path(downloaded).read_text())
    assert versions["written"]["ocr2_export_python"] == version
