"""The patterns settings model: the shipped environments validate, a bad value or unknown key is
refused by its full path, and the classifier is the critique's critic with `patterns.critic`
overriding single settings (validated, with the classifier's requirements)."""

from __future__ import annotations

import pytest

from ocr2_kedro.parameters import ParametersError
from ocr2_kedro.parameters.patterns import PatternsSettings
from tests.support.parameters import stage_settings


def problems_with(overrides: dict, env: str = "base") -> str:
    with pytest.raises(ParametersError) as caught:
        stage_settings("patterns", overrides, env=env)
    return str(caught.value)


@pytest.mark.parametrize("env", ["base", "paper", "test"])
def test_every_shipped_environment_validates(env):
    settings = stage_settings("patterns", env=env)
    assert isinstance(settings, PatternsSettings)
    classifier = settings.classifier(stage_settings("critique", env=env))
    assert classifier.model == stage_settings("critique", env=env).model


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"max_trace": 4}, "patterns.max_trace: unknown key"),
        ({"trace_field": "critique"}, "patterns.trace_field: Input should be 'auto'"),
        (
            {"behaviours": ["daydreaming"]},
            "patterns.behaviours: unknown behaviours ['daydreaming']",
        ),
        ({"max_chars": 1}, "patterns.max_chars: Input should be greater than or equal to 2"),
        ({"min_group_size": 0}, "patterns.min_group_size: Input should be greater than 0"),
        ({"critic": {"backend": "llamacpp"}}, "patterns.critic.backend: Input should be"),
        ({"critic": {"vllm": {"dtypes": "x"}}}, "patterns.critic.vllm.dtypes: unknown key"),
        ({"sampling": {"max_tokens": 0}}, "patterns.sampling.max_tokens: Input should be"),
    ],
)
def test_bad_values_and_unknown_keys_are_refused_by_their_path(overrides, expected):
    assert expected in problems_with(overrides)


def test_the_classifier_is_the_critic_with_single_settings_overridden():
    critique = stage_settings("critique", {"vllm": {"max_model_len": 2048}})
    same = stage_settings("patterns", {"critic": {"backend": "vllm"}}).classifier(critique)
    assert same.config() == critique.backend_config(critique.model)
    overridden = stage_settings(
        "patterns", {"critic": {"backend": "vllm", "vllm": {"max_model_len": 4096}}}
    ).classifier(critique)
    # A nested block merges key by key.
    assert overridden.vllm.max_model_len == 4096
    assert overridden.vllm.dtype == critique.vllm.dtype
    other = stage_settings("patterns", {"critic": {"model": "org/judge"}}).classifier(critique)
    assert (other.backend, other.model) == ("transformers", "org/judge")  # conf/base: transformers


def test_a_classifier_that_cannot_run_is_refused_under_patterns_critic():
    settings = stage_settings("patterns", {"critic": {"backend": "openai"}})
    with pytest.raises(ParametersError, match="patterns.critic: backend is openai but"):
        settings.classifier(stage_settings("critique"))


def test_classifier_requirements():
    settings = stage_settings("patterns", env="paper")
    found = settings.classifier_requirements(stage_settings("critique", env="paper"))
    assert {(r.kind, r.path) for r in found} == {
        ("component", "patterns.critic.backend"),
        ("gpus", "patterns.critic.vllm.tensor_parallel_size"),
        ("model", "patterns.critic.model"),
    }
