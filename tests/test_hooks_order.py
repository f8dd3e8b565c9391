"""The order of settings.HOOKS cannot move a metric, a tag or an artifact to the wrong MLflow run.

A small Kedro project uses this project's HOOKS (and its DISABLE_HOOKS_FOR_PLUGINS) in a given
order, and runs a pipeline with a node of the whole run, a node of an ablation variant, then
another node of the whole run. Whatever the order, the variant's metrics (from a kedro-mlflow
dataset, from the node, and from an engine handed `MlflowRun.active()`), its parameters and its
dataset versions land on the variant's child run, and the run-wide ones on the parent.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import mlflow
import pytest

from ocr2_kedro import settings as project_settings
from tests.conftest import REPO

VARIANT = "ablations.data_size.size_737k"

NODES = (
    f"VARIANT = {VARIANT!r}\n"
    + """
import mlflow
from kedro.pipeline import Node, Pipeline

from ocr2_kedro.tracking import MlflowRun


def prepare(samples: int) -> int:
    return samples


def train_variant(prepared: int, variant) -> tuple[dict, dict]:
    mlflow.log_metric("variant_direct", 1.0)
    run = MlflowRun.active()  # what a node hands an engine
    run.client().log_metric(run.run_id, "variant_engine", 2.0)
    return {"name": variant.name}, {"loss": {"value": 0.5, "step": 0}}


def report(table: dict) -> tuple[dict, str]:
    return {"runs": {"value": 1.0, "step": 0}}, f"variant {table['name']} done"


def register_pipelines():
    variant = Pipeline(
        [Node(train_variant, ["prepared", "params:variant"], ["table", "metrics"], name="train")],
        namespace=VARIANT,
        inputs={"prepared"},
        parameters={"params:variant": "params:ablations.sweeps.data_size.size_737k"},
    )
    pipeline = (
        Pipeline([Node(prepare, "params:evaluation.samples_per_problem", "prepared", name="prepare")])
        + variant
        + Pipeline([Node(report, VARIANT + ".table", ["run_metrics", "run_report"], name="report")])
    )
    return {"order": pipeline, "__default__": pipeline}
"""
)

SETTINGS = """
import os

from ocr2_kedro import settings as project

HOOKS = tuple(project.HOOKS[int(i)] for i in os.environ["HOOK_ORDER"].split(","))
DISABLE_HOOKS_FOR_PLUGINS = project.DISABLE_HOOKS_FOR_PLUGINS
CONFIG_LOADER_CLASS = project.CONFIG_LOADER_CLASS
CONFIG_LOADER_ARGS = project.CONFIG_LOADER_ARGS
CONTEXT_CLASS = project.CONTEXT_CLASS
"""

CATALOG = f"""
"{VARIANT}.table":
  type: json.JSONDataset
  filepath: data/table.json
  versioned: true
"{VARIANT}.metrics":
  type: kedro_mlflow.io.metrics.MlflowMetricsHistoryDataset
run_metrics:
  type: kedro_mlflow.io.metrics.MlflowMetricsHistoryDataset
run_report:
  type: kedro_mlflow.io.artifacts.MlflowArtifactDataset
  dataset:
    type: text.TextDataset
    filepath: data/report.md
"""


@pytest.fixture
def order_project(tmp_path, embedded_model_dir) -> Path:
    """A fresh project (its own MLflow database) for each order."""
    root = tmp_path / "hook-order"
    package = root / "src" / "hookorder"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(SETTINGS)
    (package / "pipeline_registry.py").write_text(NODES)
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [tool.kedro]
            package_name = "hookorder"
            project_name = "hookorder"
            kedro_init_version = "1.7.0"
            source_dir = "src"
            """
        )
    )
    (root / "conf" / "local").mkdir(parents=True)
    shutil.copytree(
        REPO / "conf" / "base",
        root / "conf" / "base",
        ignore=shutil.ignore_patterns("catalog_*.yml"),
    )
    (root / "conf" / "base" / "catalog.yml").write_text(CATALOG)
    embedded = root / "data" / "06_models" / "embedded"
    embedded.mkdir(parents=True)
    (embedded / embedded_model_dir.name).symlink_to(embedded_model_dir)
    return root


def _orders() -> list[list[int]]:
    count = len(project_settings.HOOKS)
    written = list(range(count))
    shuffled = [random.Random(seed).sample(written, count) for seed in (1, 2)]
    return [written, written[::-1], *shuffled]


@pytest.mark.parametrize("order", _orders(), ids=lambda order: "-".join(map(str, order)))
def test_every_hook_order_logs_to_the_same_runs(order_project, order):
    env = {
        **os.environ,
        "HOOK_ORDER": ",".join(map(str, order)),
        "PYTHONPATH": os.pathsep.join([str(order_project / "src"), str(REPO)]),
        "PYTHONUNBUFFERED": "1",
    }
    kedro = Path(sys.executable).with_name("kedro")
    proc = subprocess.run(
        [str(kedro), "run", "--pipelines", "order"],
        cwd=order_project,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{order_project / 'mlflow.db'}")
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], max_results=10
    )
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("ablation.variant") == "size_737k"]
    assert len(parents) == 1 and len(children) == 1, [r.data.tags for r in runs]
    parent, child = parents[0], children[0]
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert parent.info.status == child.info.status == "FINISHED"

    child_metrics, parent_metrics = set(child.data.metrics), set(parent.data.metrics)
    assert {"variant_direct", "variant_engine", f"{VARIANT}.metrics.loss"} <= child_metrics
    assert "run_metrics.runs" in parent_metrics and "time.order_s" in parent_metrics
    assert not child_metrics & parent_metrics, (child_metrics, parent_metrics)

    assert any("size_737k" in str(value) for value in child.data.params.values())
    assert "evaluation.samples_per_problem" in parent.data.params
    assert not set(child.data.params) & set(parent.data.params)

    assert f"data.written.{VARIANT}.table" in child.data.tags
    assert f"data.read.{VARIANT}.table" in parent.data.tags  # read by the run-wide report
    assert parent.data.tags["ablation.sweep"] == "data_size"

    parent_artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    child_artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
    assert {"dataset_versions.json", "report.md"} <= parent_artifacts, parent_artifacts
    assert not child_artifacts & {"dataset_versions.json", "report.md"}
