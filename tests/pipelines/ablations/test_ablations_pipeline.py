"""`kedro run --pipelines ablations --namespaces ablations.data_size` in a project copy on the tiny
model, then a real `mlflow server` on loopback: the sweep is one parent run with one nested child run
per variant (parameters, training curves, evaluation metrics under identical names, the training data
as an MLflow dataset); a rerun adds no child run; the UI's compare view renders in headless Chromium."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import polars as pl
import pytest
from kedro.config import OmegaConfigLoader

from ocr2_kedro.parameters.project import validate_parameters
from ocr2_kedro.pipelines.ablations.pipeline import create_pipeline, sweeps
from ocr2_kedro.settings import CONFIG_LOADER_ARGS
from tests.conftest import REPO, kedro_failure, run_kedro
from tests.support import readme
from tests.support.openai_server import free_port
from tests.support.versions import latest_path, save_versioned
from tests.training.conftest import export_row
from tests.training.test_dpo import pairs_frame

SHARED_EVALUATION_NODES = ",".join(
    f"evaluation.{name}"
    for name in (
        "prepare_benchmark",
        "collect_references",
        "combine_evaluation_rejects",
    )
)
SCREENSHOT = (
    Path(__file__).resolve().parents[3] / "docs" / "images" / "mlflow_compare_ablations.png"
)


def load_parameters(env: str) -> dict:
    args = {**CONFIG_LOADER_ARGS, "default_run_env": env}
    return OmegaConfigLoader(conf_source=str(REPO / "conf"), **args)["parameters"]


def _export() -> pl.DataFrame:
    rows = [
        export_row(
            f"g{i}",
            f"q{i % 3 + 1}",
            language="python" if i % 2 else "cpp",
            critique="Fine.\nJudgement: right",
            judgement="right",
            pass_rate=float(i % 2),
        )
        for i in range(16)
    ]
    return pl.DataFrame(rows)


def _sweep(project: Path, tiny_model_dir: Path) -> None:
    run_kedro(
        project,
        "run",
        "--env",
        "test",
        "--pipelines",
        "ablations",
        "--namespaces",
        "ablations.data_size",
        "--params",
        f"training.student={tiny_model_dir}",
    )


def _server(project: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    server = subprocess.Popen(
        [
            str(mlflow_cli),
            "server",
            "--backend-store-uri",
            f"sqlite:///{project / 'mlflow.db'}",
            "--default-artifact-root",
            str(project / "mlartifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return server, url
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError("mlflow server did not start")


def sweep_runs(client: mlflow.MlflowClient, sweep: str) -> tuple:
    """The test experiment's parent run of `sweep` and its child runs by name."""
    [experiment] = [e for e in client.search_experiments() if e.name == "ocr2_kedro_test"]
    runs = client.search_runs([experiment.experiment_id])
    [parent] = [
        r
        for r in runs
        if r.data.tags.get("ablation.sweep") == sweep and "mlflow.parentRunId" not in r.data.tags
    ]
    children = {
        r.info.run_name: r
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id
    }
    return parent, children


def prepare_sweep_inputs(project: Path) -> None:
    """What a sweep reads from the chain, in `project`: an export, preference pairs (every
    variant's training template reads them; a DPO stage left out passes through) and the shared
    benchmark problems and references."""
    save_versioned(project / "data/03_primary/ocr2/all.parquet", _export())
    save_versioned(project / "data/05_model_input/preferences/pairs.parquet", pairs_frame())
    run_kedro(project, "run", "--env", "test", "--pipelines", "ingestion")
    run_kedro(
        project,
        "run",
        "--env",
        "test",
        "--pipelines",
        "evaluation",
        "--nodes",
        SHARED_EVALUATION_NODES,
    )


@pytest.mark.slow
def test_sweep_is_one_parent_run_with_a_nested_run_per_variant(project_copy, tiny_model_dir):
    prepare_sweep_inputs(project_copy)
    _sweep(project_copy, tiny_model_dir)

    comparison = pl.read_csv(
        latest_path(project_copy / "data/08_reporting/ablations/data_size/comparison.csv")
    )
    sizes = dict(
        comparison.filter(pl.col("language") == "all").select("variant", "actual_size").rows()
    )
    assert sizes == {"size_737k": 5, "size_2500k": 16}  # 737K/2.5M of the 16 export rows, rounded

    server, url = _server(project_copy)
    try:
        client = mlflow.MlflowClient(tracking_uri=url)
        parent, children = sweep_runs(client, "data_size")
        experiment = client.get_experiment(parent.info.experiment_id)
        assert set(children) == {"size_737k", "size_2500k"}
        for name, child in children.items():
            assert child.info.status == "FINISHED"
            assert child.data.params["nominal_size"] == (
                "737000" if name == "size_737k" else "2500000"
            )
            assert int(child.data.params["actual_size"]) == sizes[name]
            # Identical names in every variant's run: the compare view lines them up.
            assert {"evaluation.python.t0.6.pass_at_1", "evaluation.python.reference_loss"} <= set(
                child.data.metrics
            )
            assert len(client.get_metric_history(child.info.run_id, "stage1.loss")) >= 2
            [dataset] = child.inputs.dataset_inputs
            assert dataset.dataset.name == f"ocr2_export[{name}]"
            assert str(sizes[name]) in dataset.dataset.profile
            assert child.data.tags["data.read.ocr2_export"]
        # One folder per sweep on the parent run (several sweeps may share it).
        artifacts = {
            a.path for a in client.list_artifacts(parent.info.run_id, "ablations/data_size")
        }
        assert artifacts == {
            f"ablations/data_size/{name}"
            for name in (
                "comparison.csv",
                "comparison.md",
                "comparison.html",
                "differences.csv",
                "differences.md",
                "differences.html",
            )
        }
        # size_2500k against the first declared variant, paired over the same problems and
        # reference solutions, with its interval, on the parent run.
        differences = pl.read_csv(
            latest_path(project_copy / "data/08_reporting/ablations/data_size/differences.csv")
        )
        assert set(differences["comparison"]) == {"size_2500k_vs_size_737k"}
        assert {"pass_at_1", "reference_loss"} <= set(differences["metric"])
        loss = differences.filter(
            (pl.col("metric") == "reference_loss") & (pl.col("language") == "all")
        ).row(0, named=True)
        assert loss["units"] > 0 and loss["ci_low"] <= loss["difference"] <= loss["ci_high"]
        name = "ablations.data_size.compare.size_2500k_vs_size_737k.all.reference_loss"
        assert parent.data.metrics[f"{name}.difference"] == pytest.approx(loss["difference"])
        assert parent.data.metrics[f"{name}.significant"] == float(loss["significant"])

        # A rerun (as after an interruption) continues the same child runs instead of adding some.
        _sweep(project_copy, tiny_model_dir)
        variant_runs = client.search_runs(
            [experiment.experiment_id], filter_string="tags.`ablation.variant` != ''"
        )
        assert sorted(r.info.run_name for r in variant_runs) == ["size_2500k", "size_737k"]
        parents = {r.data.tags["mlflow.parentRunId"] for r in variant_runs}
        assert len(parents) == 1 and parents != {parent.info.run_id}

        _screenshot_compare_view(
            url, experiment.experiment_id, [r.info.run_id for r in variant_runs], project_copy
        )

        # Every run marks the experiment as model development, and the README's link to the UI
        # opens MLflow's model-training view of it (the runs table), not the GenAI one.
        kind = client.get_experiment(experiment.experiment_id).tags.get("mlflow.experimentKind")
        assert kind == "custom_model_development"
        _check_model_training_view(url, experiment.experiment_id, parent.info.run_name)
        # What the README says a sweep's runs log, these runs log (tests/test_readme.py: the rest).
        runs = readme.logged_runs(client, "ocr2_kedro_test")
        problems = readme.mlflow_name_problems(readme.load(), runs, "ablations")
        assert not problems, "\n".join(problems)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _browser() -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: `make test` installs it (Makefile target `browser`)")
        pytest.skip("chromium not installed (make browser)")
    return browser


# The README's link to the experiment in the model-training view (MLflow 3.17 picks the view from
# the sidebar switch or this `workflowType`, not from the experiment's tag).
README_VIEW_LINK = re.compile(
    r"http://127\.0\.0\.1:5000/#/experiments/(?:\d+)(/runs\?workflowType=machine_learning)"
)
# Only MLflow's GenAI view shows these (its side navigation and overview); the model-training view
# shows the runs table.
GENAI_VIEW_TEXT = ("Evaluation runs", "Observability", "Judges")


def _rendered_text(browser: str, page: str) -> str:
    """The text a user sees on `page` once MLflow's UI has rendered it (headless Chromium)."""
    dom = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1400,1100",
            "--virtual-time-budget=20000",
            "--dump-dom",
            page,
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    visible = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", visible)).split())


def _check_model_training_view(url: str, experiment_id: str, run_name: str) -> None:
    browser = _browser()
    [suffix] = set(README_VIEW_LINK.findall((REPO / "README.md").read_text()))
    text = _rendered_text(browser, f"{url}/#/experiments/{experiment_id}{suffix}")
    assert "Run Name" in text and run_name in text, text[:2000]  # the runs table, with the sweep
    shown = [marker for marker in GENAI_VIEW_TEXT if marker in text]
    assert not shown, f"the GenAI view ({shown}) instead of model training: {text[:2000]}"


def _screenshot_compare_view(
    url: str, experiment_id: str, run_ids: list[str], workdir: Path
) -> None:
    browser = _browser()
    runs = ",".join(f'"{run_id}"' for run_id in run_ids)
    page = f'{url}/#/compare-runs?runs=[{runs}]&experiments=["{experiment_id}"]'
    target = workdir / "compare_view.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1400,1100",
            "--virtual-time-budget=20000",
            f"--screenshot={target}",
            page,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    from PIL import Image

    with Image.open(target) as image:
        colors = image.convert("RGB").getcolors(maxcolors=1 << 20)
    # A rendered page, not a blank or error screen: many distinct colours (text, tables, charts).
    assert colors is None or len(colors) > 50
    if os.environ.get("OCR2_UPDATE_SCREENSHOT"):
        shutil.copyfile(target, SCREENSHOT)


def test_every_variant_evaluates_its_final_checkpoint_and_sft_plus_dpo_ends_with_dpo():
    pipeline = create_pipeline()
    for sweep, variants in sweeps().items():
        for variant in variants:
            prefix = f"ablations.{sweep}.{variant}"
            nodes = {node.name.removeprefix(prefix + "."): node for node in pipeline.nodes}
            dpo, evaluated = nodes["train_dpo"], nodes["resolve_model"]
            # DPO starts from the last SFT checkpoint; the evaluation reads DPO's output, which
            # is the SFT checkpoint passed through when the variant trains no DPO.
            assert dpo.inputs[:2] == ["preference_pairs", f"{prefix}.sft_stage2_checkpoint"]
            assert evaluated.inputs[0] == dpo.outputs[0] == f"{prefix}.dpo_checkpoint"

    base = load_parameters("base")
    preference = validate_parameters(base)["ablations"].sweeps["preference"]
    sft, sft_plus_dpo = (preference[name].training_settings for name in ("sft", "sft_plus_dpo"))
    # The embedded sweep's overrides (stage 1 only, few steps) leave sft_plus_dpo its DPO stage.
    assert sft.stages == ["stage1"]
    assert sft_plus_dpo.stages == ["stage1", "dpo"]
    assert (
        sft_plus_dpo.trainer_for("dpo").max_steps
        == base["ablations"]["sweep_overrides"]["training"]["trainer"]["max_steps"]
    )
    paper = validate_parameters(load_parameters("paper"))["ablations"].sweeps["preference"]
    assert paper["sft_plus_dpo"].training_settings.stages == ["stage1", "stage2", "dpo"]
    assert paper["sft"].training_settings.stages == ["stage1", "stage2"]


def test_a_variant_overriding_an_unknown_setting_fails_at_pipeline_start(project_copy):
    output = kedro_failure(
        project_copy,
        "run",
        "--env",
        "test",
        "--pipelines",
        "ablations",
        "--namespaces",
        "ablations.data_size.size_737k",
        "--params",
        "ablations.sweeps.data_size.size_737k.training.trainer.max_stepz=3",
    )
    assert "training.trainer.max_stepz" in output and "size_737k" in output
    assert "Completed 1 out of" not in output  # nothing ran
