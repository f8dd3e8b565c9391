"""Training nodes: a finished stage is reused on a rerun; stage 1 only ends at the stage-1 model."""

from __future__ import annotations

import polars as pl

from ocr2_kedro.pipelines.training.nodes import (
    build_sft_examples,
    train_stage1,
    train_stage2,
    validate_training_config,
)
from tests.training.conftest import export_row


def test_a_finished_stage_is_reused_and_stage1_only_ends_there(tmp_path, tiny_model_dir):
    plan = validate_training_config(
        {
            "student": str(tiny_model_dir),
            "work_dir": str(tmp_path / "runs"),
            "stages": ["stage1"],
            "trainer": {"max_steps": 2, "max_length": 128, "save_steps": 2},
            "mlflow": {"log_checkpoint": "none"},
        }
    )
    export = pl.DataFrame([export_row("g1", "q1"), export_row("g2", "q2", language="cpp")])
    stage1_examples, stage2_examples, _ = build_sft_examples(export, plan)

    first, metrics = train_stage1(stage1_examples, plan)
    assert metrics["global_step"]["value"] == 2 and "reused" not in metrics
    again, metrics = train_stage1(stage1_examples, plan)
    assert again == first and metrics["reused"]["value"] == 1.0

    final, metrics = train_stage2(stage2_examples, first, plan)
    assert final == first and metrics == {"trained": {"value": 0.0, "step": 0}}
