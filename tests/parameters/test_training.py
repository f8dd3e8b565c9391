"""The training settings model: the shipped environments validate; every check the training node
and the engine's config types made before (trainer values and packing, stage lists, tokenize, DPO,
the launch and its DeepSpeed config against the trainer, checkpoint logging, example filters)
refuses a bad value by its full path; it builds the engine's own config types; and it declares the
student, the components and the GPUs it needs."""

from __future__ import annotations

import json

import pytest

from ocr2_kedro.parameters import ParametersError
from ocr2_kedro.parameters.training import TrainingSettings
from ocr2_kedro.training import DistributedSettings, DPOSettings, ExampleFilters, TrainerSettings
from tests.conftest import REPO
from tests.support.parameters import stage_settings

ZERO2 = str(REPO / "conf" / "paper" / "deepspeed" / "zero2.json")


@pytest.fixture(autouse=True)
def _in_the_project(monkeypatch):
    monkeypatch.chdir(REPO)  # model and DeepSpeed config paths are relative to the project


def problems_with(overrides: dict) -> list[str]:
    with pytest.raises(ParametersError) as caught:
        stage_settings("training", overrides)
    return caught.value.problems


@pytest.mark.parametrize("env", ["base", "paper", "test"])
def test_every_shipped_environment_validates(env):
    settings = stage_settings("training", env=env)
    assert isinstance(settings, TrainingSettings)
    # Stage settings merge over the environment's common ones; none leak in from conf/base.
    length = settings.trainer.max_length
    assert settings.trainer_for("stage1").max_length == settings.trainer_for("stage2").max_length
    assert settings.trainer_for("stage1").max_length == length


def test_it_builds_the_engines_config_types():
    settings = stage_settings(
        "training",
        {
            "stage2": {"trainer": {"max_steps": 2}, "critique_ratio": 1.0},
            "dpo": {"loss_type": ["sigmoid", "sft"], "loss_weights": [1, 0.5]},
            "filters": {"languages": ["python"]},
        },
    )
    assert isinstance(settings.trainer_for("stage2"), TrainerSettings)
    assert settings.trainer_for("stage2").max_steps == 2
    assert settings.trainer_for("stage1").max_steps == settings.trainer.max_steps
    dpo = settings.dpo_settings()
    assert isinstance(dpo, DPOSettings) and dpo.loss_type == ("sigmoid", "sft")
    assert dpo.loss_weights == (1.0, 0.5)
    assert settings.distributed_settings() == DistributedSettings()
    assert settings.example_filters() == ExampleFilters(languages=("python",))
    json.dumps(settings.as_dict())  # plain data: MLflow logs it


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"trainer": {"max_length": 10}}, "training.trainer.max_length"),
        ({"trainer": {"max_steps": 0}}, "training.trainer.max_steps"),
        ({"trainer": {"precision": "fp16"}}, "training.trainer.precision"),
        ({"trainer": {"save_steps": 0}}, "training.trainer.save_steps"),
        ({"trainer": {"logging_steps": 0}}, "training.trainer.logging_steps"),
        ({"trainer": {"packing_strategy": "wrapped"}}, "training.trainer"),
        ({"trainer": {"max_len": 10}}, "training.trainer.max_len"),
        ({"stage2": {"trainer": {"max_steps": -1}}}, "training.stage2.trainer.max_steps"),
        ({"stage2": {"critique_ratio": -1}}, "training.stage2.critique_ratio"),
        ({"stages": ["stage1", "dpo", "stage2"]}, "training.stages"),
        ({"stages": ["dpo"]}, "training.stages"),
        ({"tokenize": {"procs": 2}}, "training.tokenize.procs"),
        ({"tokenize": {"num_proc": 0}}, "training.tokenize.num_proc"),
        ({"tokenize": {"batch_size": 0}}, "training.tokenize.batch_size"),
        ({"dpo": {"beta": 0}}, "training.dpo.beta"),
        ({"dpo": {"loss_type": "dpo"}}, "training.dpo.loss_type"),
        ({"dpo": {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0]}}, "training.dpo"),
        ({"dpo": {"min_pairs": 0}}, "training.dpo.min_pairs"),
        ({"dpo": {"label_smoothing": 0.5}}, "training.dpo.label_smoothing"),
        ({"dpo": {"max_prompt_length": 64}}, "training.dpo.max_prompt_length"),
        ({"distributed": {"launcher": "mpirun"}}, "training.distributed.launcher"),
        ({"distributed": {"launcher": "deepspeed"}}, "training.distributed"),
        ({"distributed": {"num_nodes": 0}}, "training.distributed.num_nodes"),
        ({"distributed": {"hostfile": "no/such/hostfile"}}, "training.distributed"),
        ({"mlflow": {"log_checkpoint": "always"}}, "training.mlflow.log_checkpoint"),
        ({"filters": {"min_passrate": 1.0}}, "training.filters.min_passrate"),
        ({"student": ""}, "training.student"),
    ],
)
def test_a_bad_value_is_refused_by_its_full_path(overrides, path):
    (problem,) = problems_with(overrides)
    assert problem.startswith(f"{path}: ") or problem.startswith(f"{path}.")


def test_cross_field_rules():
    (problem,) = problems_with({"distributed": {"launcher": "deepspeed"}})
    assert "launcher deepspeed needs distributed.deepspeed_config" in problem
    (problem,) = problems_with(
        {"distributed": {"launcher": "deepspeed", "num_nodes": 2, "deepspeed_config": ZERO2}}
    )
    assert "needs a hostfile" in problem
    # A stage's overrides are checked merged over the shared settings.
    (problem,) = problems_with({"stage2": {"trainer": {"packing_strategy": "wrapped"}}})
    assert problem.startswith("training: stage2.trainer: packing_strategy must be one of")
    assert stage_settings("training", {"trainer": {"packing": False, "packing_strategy": "x"}})


def test_the_deepspeed_config_is_read_and_checked_against_the_trainer(tmp_path):
    settings = stage_settings(
        "training", {"distributed": {"launcher": "deepspeed", "deepspeed_config": ZERO2}}
    )
    assert settings.distributed_settings().deepspeed_config == ZERO2
    (problem,) = problems_with({"distributed": {"deepspeed_config": str(tmp_path / "none.json")}})
    assert problem.startswith("training: distributed.deepspeed_config: ") and "does not" in problem
    pinned = tmp_path / "pinned.json"
    pinned.write_text(
        json.dumps({"zero_optimization": {"stage": 2}, "train_micro_batch_size_per_gpu": 4})
    )
    (problem,) = problems_with({"distributed": {"deepspeed_config": str(pinned)}})
    assert "train_micro_batch_size_per_gpu=4 but the trainer uses 1" in problem
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"zero_optimization": {"stage": 1}}))
    (problem,) = problems_with({"distributed": {"deepspeed_config": str(broken)}})
    assert "stage must be 2 or 3" in problem


def test_requirements_name_the_setting_that_asks():
    assert stage_settings("training").requirements() == []
    paper = {r.kind: r for r in stage_settings("training", env="paper").requirements()}
    assert (paper["model"].value, paper["model"].path) == (
        stage_settings("training", env="paper").student,
        "training.student",
    )
    assert paper["gpus"].value == 8 and paper["gpus"].path == "training.distributed.num_gpus"
    components = {
        r.value: r.path
        for r in stage_settings("training", env="paper").requirements()
        if r.kind == "component"
    }
    assert components == {
        "flash_attn": "training.trainer.attn_implementation",
        "deepspeed": "training.distributed.launcher",
    }
    # flash-attn asked for by one trained stage only: that stage's setting is named.
    (flash,) = stage_settings(
        "training", {"stage2": {"trainer": {"attn_implementation": "flash_attention_2"}}}
    ).requirements()
    assert (flash.kind, flash.value) == ("component", "flash_attn")
    assert flash.path == "training.stage2.trainer.attn_implementation"
    # ... and not at all when that stage is not trained.
    assert (
        stage_settings(
            "training",
            {
                "stages": ["stage1"],
                "stage2": {"trainer": {"attn_implementation": "flash_attention_2"}},
            },
        ).requirements()
        == []
    )
