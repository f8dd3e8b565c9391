"""Training nodes: examples stream out as batches; a finished stage is reused on a rerun; stage 1 only
ends at the stage-1 model."""

from __future__ import annotations

import types

import polars as pl
import pytest

from ocr2_kedro.datasets import StreamingParquetDataset
from ocr2_kedro.pipelines.training.nodes import (
    build_sft_examples,
    train_stage1,
    train_stage2,
    validate_training_config,
)
from tests.training.conftest import export_row


def _saved(data, path) -> pl.LazyFrame:
    """Through the catalog's dataset, as a Kedro run passes the examples on."""
    dataset = StreamingParquetDataset(filepath=str(path))
    dataset.save(data)
    return dataset.load()


def test_a_finished_stage_is_reused_and_stage1_only_ends_there(tmp_path, tiny_model_dir):
    plan = validate_training_config(
        {
            "student": str(tiny_model_dir),
            "work_dir": str(tmp_path / "runs"),
            "stages": ["stage1"],
            "trainer": {"max_steps": 2, "max_length": 128, "save_steps": 2},
            "tokenize": {"num_proc": 2},
            "mlflow": {"log_checkpoint": "none"},
        }
    )
    export = pl.DataFrame([export_row("g1", "q1"), export_row("g2", "q2", language="cpp")])
    stage1_batches, stage2_batches, rejects = build_sft_examples(export.lazy(), plan)
    # Generators and a lazy frame: nothing is built until the catalog writes them.
    assert isinstance(stage1_batches, types.GeneratorType)
    assert isinstance(rejects, pl.LazyFrame)
    stage1_examples = _saved(stage1_batches, tmp_path / "stage1.parquet")
    stage2_examples = _saved(stage2_batches, tmp_path / "stage2.parquet")
    assert _saved(rejects, tmp_path / "rejects.parquet").collect()["record_id"].to_list() == [
        "g1",
        "g2",
    ]  # no critique to learn from

    first, metrics = train_stage1(stage1_examples, plan)
    assert metrics["global_step"]["value"] == 2 and "reused" not in metrics
    assert metrics["examples"]["value"] == 2 and metrics["skipped_examples"]["value"] == 0
    assert metrics["trained_tokens"]["value"] < metrics["train_tokens"]["value"]
    assert metrics["tokenization_reused"]["value"] == 0
    tokenized = list((tmp_path / "runs" / "tokenized").iterdir())
    assert len(tokenized) == 1 and (tokenized[0] / "tokenized.json").is_file()
    again, metrics = train_stage1(stage1_examples, plan)
    assert again == first and metrics["reused"]["value"] == 1.0

    final, metrics = train_stage2(stage2_examples, first, plan)
    assert final == first and metrics == {"trained": {"value": 0.0, "step": 0}}


def test_examples_whose_prompt_fills_max_length_are_counted(tmp_path, tiny_model_dir):
    plan = validate_training_config(
        {
            "student": str(tiny_model_dir),
            "work_dir": str(tmp_path / "runs"),
            "stages": ["stage1"],
            "trainer": {"max_steps": 1, "max_length": 16, "save_steps": 1},
            "mlflow": {"log_checkpoint": "none"},
        }
    )
    export = pl.DataFrame([export_row("g1", "q1")])
    stage1, _, _ = build_sft_examples(export, plan)
    # The only example has no token left to train on: listed with the reason, and the stage fails.
    with pytest.raises(ValueError, match="no training examples"):
        train_stage1(pl.concat(list(stage1)), plan)
    (folder,) = (tmp_path / "runs" / "tokenized").iterdir()
    skipped = pl.read_parquet(folder / "skipped.parquet")
    assert skipped["id"].to_list() == ["g1"]
    assert "fills max_length 16" in skipped["reason"][0]


def test_unknown_tokenize_settings_are_an_error(tmp_path):
    with pytest.raises(ValueError, match="unknown tokenize settings"):
        validate_training_config(
            {"student": "embedded", "work_dir": str(tmp_path), "tokenize": {"procs": 2}}
        )
