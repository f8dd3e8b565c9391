"""`kedro run --pipelines training` in a project copy: two SFT stages then DPO on the tiny model, logged
to MLflow."""

from __future__ import annotations

import sqlite3

import polars as pl
import pytest

from tests.conftest import run_kedro
from tests.support.versions import save_versioned
from tests.training.conftest import export_row
from tests.training.test_dpo import pairs_frame


@pytest.mark.slow
def test_training_pipeline_trains_sft_then_dpo_into_versioned_checkpoints(
    project_copy, tiny_model_dir
):
    export = pl.DataFrame(
        [
            export_row("g1", "q1", critique="Reads and adds.\nJudgement: right", judgement="right"),
            export_row("g2", "q2", critique="Wrong output.", judgement="wrong", pass_rate=0.0),
            export_row("g3", "q3", language="cpp"),
            export_row("g4", "q1", critique=None, judgement=None),
        ]
    )
    save_versioned(project_copy / "data/03_primary/ocr2/all.parquet", export)
    save_versioned(project_copy / "data/05_model_input/preferences/pairs.parquet", pairs_frame())
    with (project_copy / "conf/test/parameters_training.yml").open("a") as conf:
        conf.write("  stages: [stage1, stage2, dpo]\n")

    run_kedro(
        project_copy,
        "run",
        "--env",
        "test",
        "--pipelines",
        "training",
        "--params",
        f"training.student={tiny_model_dir},training.stage2.critique_ratio=0.5",
    )

    models = project_copy / "data/06_models/sft"
    stage1 = list(models.glob("stage1/*/stage1/model.safetensors"))
    stage2 = list(models.glob("stage2/*/stage2/model.safetensors"))
    assert len(stage1) == 1 and len(stage2) == 1
    # The final model: DPO's, trained from the stage-2 checkpoint.
    assert len(list((project_copy / "data/06_models/dpo").glob("*/dpo/model.safetensors"))) == 1
    # Trainer checkpoints are dropped once a stage has finished (keep_trainer_checkpoints: false).
    assert not list((project_copy / "data/06_models/sft_runs").glob("*/checkpoint-*"))

    examples = project_copy / "data/05_model_input/sft"
    stage1_examples = pl.read_parquet(next(examples.glob("stage1_examples.parquet/*/*.parquet")))
    stage2_examples = pl.read_parquet(next(examples.glob("stage2_examples.parquet/*/*.parquet")))
    rejects = pl.read_parquet(next(examples.glob("rejects.parquet/*/*.parquet")))
    assert stage1_examples["kind"].to_list() == ["generation"] * 4
    assert sorted(stage2_examples["kind"].to_list()) == ["critique"] * 2 + ["generation"] * 4
    assert sorted(rejects["record_id"].to_list()) == ["g3", "g4"]  # no critique to learn from

    with sqlite3.connect(project_copy / "mlflow.db") as db:
        (run_id,) = db.execute("select run_uuid from runs").fetchone()
        steps = dict(
            db.execute(
                "select key, count(*) from metrics where run_uuid=? group by key", (run_id,)
            ).fetchall()
        )
        tags = dict(db.execute("select key, value from tags where run_uuid=?", (run_id,)))
        params = dict(db.execute("select key, value from params where run_uuid=?", (run_id,)))
    # Per-step loss and learning rate of both stages in the kedro-mlflow run itself.
    assert steps["stage1.loss"] == 4 and steps["stage2.loss"] == 4 and steps["dpo.loss"] == 4
    assert steps["dpo.rewards_margins"] == 4 and "dpo.pairs_in_table" in steps
    assert steps["stage1.learning_rate"] == 4 and "stage2.tokens_per_second" in steps
    for name in ("packing_efficiency", "non_padding_share", "tokens_per_second", "last_loss"):
        assert f"stage1.{name}" in steps and f"stage2.{name}" in steps
    assert params["training.trainer.max_steps"] == "4"
    # The tiny checkpoint is under max_artifact_mb: logged as artifacts.
    assert tags["stage1.checkpoint"] == "artifact" and tags["stage2.checkpoint"] == "artifact"
    assert tags["dpo.checkpoint"] == "artifact" and tags["data.written.dpo_checkpoint"]
    assert tags["data.written.sft_stage2_checkpoint"]
    artifacts = list((project_copy / "mlartifacts").rglob("checkpoints/stage2/model.safetensors"))
    assert len(artifacts) == 1
