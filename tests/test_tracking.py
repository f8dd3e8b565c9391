"""The MLflow UI link `make ui` prints: the experiment's real id from a real local store."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import mlflow

from ocr2_kedro.tracking import experiment_link

ROOT = Path(__file__).resolve().parents[1]


def test_link_names_the_experiment_id_of_the_store(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert "`make run` first" in experiment_link(uri, "ocr2_kedro", "127.0.0.1", 5000)
    client = mlflow.MlflowClient(tracking_uri=uri)
    client.create_experiment("other")
    assert "no experiment 'ocr2_kedro'" in experiment_link(uri, "ocr2_kedro", "127.0.0.1", 5000)
    experiment_id = client.create_experiment("ocr2_kedro")
    link = experiment_link(uri, "ocr2_kedro", "localhost", "5001")
    assert link.startswith(
        f"http://localhost:5001/#/experiments/{experiment_id}/runs?workflowType=machine_learning "
    )
    assert experiment_id != "0"


def test_make_ui_reads_the_projects_mlflow_settings(tmp_path):
    """tools/mlflow_link.py on a copy of the project's conf with no store yet: the configured
    host and port, and what to do first."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "conf", project / "conf")
    (project / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "mlflow_link.py"), str(project)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith("MLflow UI: http://127.0.0.1:5000 (no runs yet")
    assert str(project / "mlflow.db") in result.stdout
