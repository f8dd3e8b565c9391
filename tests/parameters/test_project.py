"""All stages validated in one pass; ablation variants merged with OmegaConf and validated by the
training and evaluation models; every problem reported at once, by its full path."""

from __future__ import annotations

import copy

import pytest

from ocr2_kedro.parameters import ParametersError
from ocr2_kedro.parameters.base import merge_overrides
from ocr2_kedro.parameters.project import validate_parameters
from tests.support.parameters import raw_parameters


@pytest.fixture(scope="module")
def base() -> dict:
    return raw_parameters("base")


@pytest.mark.parametrize("env", ["base", "paper", "test"])
def test_every_shipped_environment_validates(env):
    settings = validate_parameters(raw_parameters(env))
    assert settings.at("evaluation.samples_per_problem") >= 1
    assert settings.at("training.student")


def test_variants_layer_the_sweep_and_the_variant_over_the_run(base):
    raw = copy.deepcopy(base)
    raw["ablations"]["sweep_overrides"] = {
        "enabled": True,
        "training": {"trainer": {"max_steps": 6}},
        "evaluation": {"ks": [1], "samples_per_problem": 1},
    }
    raw["ablations"]["sweeps"] = {"s": {"v": {"training": {"stages": ["stage1", "stage2"]}}}}
    settings = validate_parameters(raw)
    variant = settings.at("ablations.sweeps.s.v")
    assert variant.name == "v" and variant.namespace == "ablations.s.v"
    training, evaluation = variant.training_settings, variant.evaluation_settings
    assert training.trainer.max_steps == 6 and training.stages == ["stage1", "stage2"]
    assert training.work_dir == f"{base['training']['work_dir']}/ablations/v"
    assert evaluation.ks == [1] and evaluation.samples_per_problem == 1
    # The run's own settings are untouched by the variant's.
    assert settings["training"].trainer.max_steps == base["training"]["trainer"]["max_steps"]

    raw["ablations"]["sweep_overrides"]["enabled"] = False
    unchanged = validate_parameters(raw).at("ablations.sweeps.s.v").training_settings
    assert unchanged.trainer.max_steps == base["training"]["trainer"]["max_steps"]


def test_every_problem_is_reported_at_once_by_its_full_path(base):
    raw = copy.deepcopy(base)
    raw["evaluation"]["samples_per_problem"] = "many"
    raw["training"]["trainer"]["max_stepz"] = 3
    raw["ablations"]["sweeps"]["data_size"]["size_737k"]["training"] = {"trainer": {"lr": 1}}
    raw["ablations"]["sweeps"]["data_size"]["size_737k"]["data"]["size"] = 3
    raw["typo_stage"] = {}
    with pytest.raises(ParametersError) as caught:
        validate_parameters(raw)
    message = str(caught.value)
    for path in (
        "evaluation.samples_per_problem",
        "training.trainer.max_stepz",
        "ablations.sweeps.data_size.size_737k.data.size",
        "typo_stage",
    ):
        assert path in message, message
    # The variant's merged settings are checked once the run's own are valid.
    raw = copy.deepcopy(base)
    raw["ablations"]["sweeps"]["data_size"]["size_737k"]["training"] = {"trainer": {"lr": 1}}
    raw["ablations"]["sweeps"]["data_size"]["size_737k"]["evaluation"] = {"ks": [9]}
    with pytest.raises(ParametersError) as caught:
        validate_parameters(raw)
    assert "ablations.sweeps.data_size.size_737k.training.trainer.lr" in str(caught.value)
    assert "ablations.sweeps.data_size.size_737k.evaluation" in str(caught.value)


def test_a_bad_sweep_override_is_reported_under_sweep_overrides(base):
    raw = copy.deepcopy(base)
    raw["ablations"]["sweep_overrides"]["training"] = {"trainer": {"max_stepz": 1}}
    with pytest.raises(ParametersError, match=r"ablations\.sweep_overrides\.training\.trainer"):
        validate_parameters(raw)


def test_a_variant_name_used_twice_is_refused(base):
    raw = copy.deepcopy(base)
    raw["ablations"]["sweeps"]["language_mix"]["size_737k"] = {}
    with pytest.raises(ParametersError, match="size_737k"):
        validate_parameters(raw)


def test_a_missing_stage_and_a_literal_api_key_are_refused(base):
    raw = copy.deepcopy(base)
    del raw["dedup"]
    with pytest.raises(ParametersError, match=r"dedup: missing"):
        validate_parameters(raw)
    raw = copy.deepcopy(base)
    raw["generation"]["openai"]["api_key"] = "sk-secret"
    with pytest.raises(ValueError) as caught:
        validate_parameters(raw)
    assert "sk-secret" not in str(caught.value)


def test_at_walks_models_and_mappings_like_params_names(base):
    settings = validate_parameters(base)
    assert settings.at("evaluation.sampling") is settings["evaluation"].sampling
    assert settings.at("ablations.sweeps.data_size.size_737k").data.nominal_size == 737_000
    with pytest.raises(KeyError):
        settings.at("evaluation.no_such_setting")


def test_merge_overrides_is_the_config_loaders_merge():
    merged = merge_overrides({"a": {"b": 1, "c": [1, 2]}}, {"a": {"b": 3, "c": [9]}}, None)
    assert merged == {"a": {"b": 3, "c": [9]}}


def test_a_bad_variant_leaves_the_other_stages_usable_for_the_start_up_check(base):
    """The partial settings a start-up check reports with: every valid stage, and no ablations
    whose variants could not be merged (their settings would be missing)."""
    raw = copy.deepcopy(base)
    raw["ablations"]["sweeps"]["data_size"]["size_737k"]["training"] = {"trainer": {"lr": 1}}
    with pytest.raises(ParametersError) as caught:
        validate_parameters(raw)
    partial = caught.value.partial
    assert "ablations" not in partial.stages and "training" in partial.stages
