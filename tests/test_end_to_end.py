"""The walking skeleton end to end: `kedro run --env test` in a fresh project copy, tracked in MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import polars as pl
import pytest

from tests.conftest import run_kedro
from tests.support.versions import latest_version, read_latest


@pytest.mark.slow
def test_distill_run_writes_versioned_dataset_and_mlflow_run(project_copy):
    run_kedro(project_copy, "run", "--env", "test", "--pipelines", "distill")

    primary = project_copy / "data" / "03_primary"
    export_dir = primary / "ocr2" / "python.parquet"
    version = latest_version(export_dir)
    python = pl.read_parquet(export_dir / version / "python.parquet")
    cpp = read_latest(primary / "ocr2" / "cpp.parquet")
    export = pl.concat([python, cpp])
    generations = read_latest(primary / "generations.parquet")
    rejects = read_latest(primary / "generation_rejects.parquet")
    assert {"question", "r1_generation", "solution", "pass_rate", "question_id"} <= set(
        python.columns
    )
    assert export["pass_rate"].is_not_null().all()
    # Nothing is dropped silently: every generation is exported or rejected with a reason.
    rejected = set(rejects["record_id"])
    exported = set(export["id"])
    assert not exported & rejected
    assert set(generations["generation_id"]) <= exported | rejected
    # ... and every deduplicated question was generated for or rejected with a reason.
    questions = set(read_latest(primary / "problems_dedup.parquet")["question_id"])
    assert questions <= set(generations["question_id"]) | rejected

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project_copy / 'mlflow.db'}")
    [experiment] = [e for e in client.search_experiments() if e.name == "ocr2_kedro_test"]
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["generation.backend"] == "transformers"
    assert run.data.metrics["dataset.samples"] == export.height
    assert run.data.metrics["dataset.generations"] == generations.height
    # Lineage: the run says which dataset versions it wrote and read.
    assert run.data.tags["data.written.ocr2_export_python"] == version
    assert run.data.tags["data.read.generations"] == run.data.tags["data.written.generations"]
    downloaded = client.download_artifacts(
        run.info.run_id, "dataset_versions.json", str(project_copy)
    )
    versions = json.loads(Path(downloaded).read_text())
    assert versions["written"]["ocr2_export_python"] == version
