"""Training nodes: examples stream out as batches; a finished stage is reused on a rerun; stage 1 only
ends at the stage-1 model; DPO trains from the SFT checkpoint on the preference pairs, passes the SFT
checkpoint on when not asked for, and refuses too few pairs before loading a model (and, in the
template, before its first node)."""

from __future__ import annotations

import types
from pathlib import Path

import polars as pl
import pytest

from ocr2_kedro.datasets import StreamingParquetDataset
from ocr2_kedro.parameters import ParametersError
from ocr2_kedro.pipelines.training.nodes import (
    build_sft_examples,
    check_preference_pairs,
    train_dpo,
    train_stage1,
    train_stage2,
)
from tests.support.parameters import stage_settings
from tests.training.conftest import export_row
from tests.training.test_dpo import pairs_frame


def _saved(data, path) -> pl.LazyFrame:
    """Through the catalog's dataset, as a Kedro run passes the examples on."""
    dataset = StreamingParquetDataset(filepath=str(path))
    dataset.save(data)
    return dataset.load()


def test_a_finished_stage_is_reused_and_stage1_only_ends_there(tmp_path, tiny_model_dir):
    plan = stage_settings(
        "training",
        {
            "student": str(tiny_model_dir),
            "work_dir": str(tmp_path / "runs"),
            "stages": ["stage1"],
            "trainer": {
                "max_steps": 2,
                "max_length": 128,
                "save_steps": 2,
                "per_device_train_batch_size": 2,
                "gradient_checkpointing": True,
            },
            "tokenize": {"num_proc": 2},
            "mlflow": {"log_checkpoint": "none"},
        },
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
    assert metrics["tokenized_examples_lent"]["value"] == 0  # no earlier stage to lend rows
    tokenized = list((tmp_path / "runs" / "tokenized").iterdir())
    assert len(tokenized) == 1 and (tokenized[0] / "tokenized.json").is_file()
    again, metrics = train_stage1(stage1_examples, plan)
    assert again == first and metrics["reused"]["value"] == 1.0

    final, metrics = train_stage2(stage2_examples, first, plan)
    assert final == first and metrics == {"trained": {"value": 0.0, "step": 0}}


def test_examples_whose_prompt_fills_max_length_are_counted(tmp_path, tiny_model_dir):
    plan = stage_settings(
        "training",
        {
            "student": str(tiny_model_dir),
            "work_dir": str(tmp_path / "runs"),
            "stages": ["stage1"],
            "trainer": {
                "max_steps": 1,
                "max_length": 16,
                "save_steps": 1,
                "per_device_train_batch_size": 2,
                "gradient_checkpointing": True,
            },
            "mlflow": {"log_checkpoint": "none"},
        },
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


def _plan(tmp_path, student, stages, dpo=None):
    return stage_settings(
        "training",
        {
            "student": str(student),
            "work_dir": str(tmp_path / "runs"),
            "stages": stages,
            "trainer": {
                "max_steps": 2,
                "max_length": 128,
                "save_steps": 2,
                "gradient_checkpointing": False,
            },
            "dpo": dpo or {},
            "mlflow": {"log_checkpoint": "none"},
        },
    )


def test_stage_lists_and_dpo_settings_are_validated(tmp_path, tiny_model_dir):
    for stages in (["stage1", "dpo"], ["stage1", "stage2", "dpo"]):
        plan = _plan(tmp_path, tiny_model_dir, stages, {"beta": 0.2, "trainer": {"max_steps": 3}})
        assert plan.stages == stages and plan.dpo_settings().beta == 0.2
        # DPO's trainer overrides merge over the shared settings, the SFT stages keep theirs.
        assert plan.trainer_for("dpo").max_steps == 3 and plan.trainer_for("stage1").max_steps == 2
        assert plan.trainer_for("dpo").max_length == 128
    for stages in (["dpo"], ["stage1", "dpo", "stage2"], ["stage2"]):
        with pytest.raises(ParametersError, match=r"training\.stages: must be one of"):
            _plan(tmp_path, tiny_model_dir, stages)
    with pytest.raises(ParametersError, match=r"training\.dpo\.max_prompt_length: unknown key"):
        _plan(tmp_path, tiny_model_dir, ["stage1", "dpo"], {"max_prompt_length": 64})


def test_without_dpo_in_the_stages_the_sft_checkpoint_is_the_final_model(tmp_path, tiny_model_dir):
    plan = _plan(tmp_path, tiny_model_dir, ["stage1", "stage2"])
    # The pairs are not read (an empty table is fine) and nothing is trained.
    final, metrics = train_dpo(pl.DataFrame().lazy(), "data/06_models/sft/stage2/v/stage2", plan)
    assert final == "data/06_models/sft/stage2/v/stage2"
    assert metrics == {"trained": {"value": 0.0, "step": 0}}
    with pytest.raises(FileNotFoundError, match="no.*SFT checkpoint|there is none yet"):
        train_dpo(pl.DataFrame().lazy(), None, plan)


def test_too_few_pairs_fail_with_what_to_do_before_any_model_loads(tmp_path, tiny_model_dir):
    plan = _plan(tmp_path, tiny_model_dir, ["stage1", "dpo"], {"min_pairs": 3})
    no_model = str(tmp_path / "no-such-checkpoint")
    for pairs, held in ((pairs_frame(2), 2), (pairs_frame(1).clear(), 0)):
        with pytest.raises(ValueError, match=f"min_pairs=3 .* holds {held}") as error:
            train_dpo(pairs.lazy(), no_model, plan)
        assert "samples per question" in str(error.value) and "critique" in str(error.value)
    with pytest.raises(ValueError, match="lacks the columns \\['chosen', 'rejected'\\]"):
        train_dpo(pl.DataFrame({"prompt": ["p"] * 4}).lazy(), no_model, plan)
    assert not (tmp_path / "runs").exists()  # nothing prepared, nothing trained


def test_too_few_pairs_stop_the_template_before_its_first_node(tmp_path, tiny_model_dir):
    from ocr2_kedro.pipelines.training.pipeline import create_training_template

    plan = _plan(tmp_path, tiny_model_dir, ["stage1", "dpo"], {"min_pairs": 3})
    export = pl.DataFrame([export_row("g1", "q1")]).lazy()
    with pytest.raises(ValueError, match="min_pairs=3 .* holds 2") as error:
        check_preference_pairs(export, pairs_frame(2).lazy(), plan)
    assert "generation.samples_per_question" in str(error.value)
    # Enough pairs: the export passes on unchanged.
    assert check_preference_pairs(export, pairs_frame(3).lazy(), plan) is export
    # No DPO stage: the pairs are not counted (a table without columns is fine).
    sft = _plan(tmp_path, tiny_model_dir, ["stage1", "stage2"])
    assert check_preference_pairs(export, pl.DataFrame().lazy(), sft) is export
    # Every node of the template that builds examples or trains waits on the check, so in a run
    # that makes its pairs the check runs right after them and before any model loads.
    template = create_training_template()
    for node in template.nodes:
        if node.name != "check_preference_pairs":
            upstream = {n.name for n in template.to_nodes(node.name).nodes}
            assert "check_preference_pairs" in upstream, node.name
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_dpo_trains_from_the_sft_checkpoint_and_a_rerun_reuses_it(tmp_path, tiny_model_dir):
    plan = _plan(tmp_path, tiny_model_dir, ["stage1", "dpo"], {"trainer": {"learning_rate": 1e-3}})
    pairs = _saved(pairs_frame(), tmp_path / "pairs.parquet")  # as the catalog passes it on
    sft_checkpoint = str(tiny_model_dir)
    final, metrics = train_dpo(pairs, sft_checkpoint, plan)
    assert Path(final).parent.name.startswith("dpo-") and final != sft_checkpoint
    assert (Path(final) / "model.safetensors").is_file()
    assert metrics["global_step"]["value"] == 2 and "reused" not in metrics
    assert metrics["pairs_in_table"]["value"] == metrics["trained_pairs"]["value"] == 4
    assert metrics["pairs_execution"]["value"] == 4
    assert metrics["pairs_critique"]["value"] == 0  # logged for every source, so runs line up
    assert metrics["first_loss"]["value"] > metrics["last_loss"]["value"]
    # Only the three columns TRL reads were copied for the trainer; checkpoints are dropped.
    (copied,) = (tmp_path / "runs" / "preferences").glob("*/pairs.parquet")
    assert pl.read_parquet_schema(copied).keys() == {"prompt", "chosen", "rejected"}
    assert not list((tmp_path / "runs").glob("dpo-*/checkpoint-*"))
    again, metrics = train_dpo(pairs, sft_checkpoint, plan)
    assert again == final and metrics["reused"]["value"] == 1.0
