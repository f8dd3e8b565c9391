"""The critique settings model: the shipped environments validate, a bad value or unknown key is
refused by its full path, and the requirements name the critic and its GPUs."""

from __future__ import annotations

import pytest

from ocr2_kedro.parameters import ParametersError
from ocr2_kedro.parameters.critique import CritiqueSettings
from tests.support.parameters import stage_settings


def problems_with(overrides: dict, env: str = "base") -> str:
    with pytest.raises(ParametersError) as caught:
        stage_settings("critique", overrides, env=env)
    return str(caught.value)


@pytest.mark.parametrize("env", ["base", "paper", "test"])
def test_every_shipped_environment_validates(env):
    settings = stage_settings("critique", env=env)
    assert isinstance(settings, CritiqueSettings)
    assert settings.judgement_follow_up.max_tokens_if_enabled == 16


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"only_unflaged": True}, "critique.only_unflaged: unknown key"),
        ({"judgement_follow_up": {"max_tokens": 0}}, "critique.judgement_follow_up.max_tokens"),
        ({"sampling": {"temperature": -0.1}}, "critique.sampling.temperature: Input should be"),
        ({"resume": {"shard_dir": ""}}, "critique.resume.shard_dir: String should have"),
        ({"openai": {"timeout_s": 0}}, "critique.openai.timeout_s: Input should be greater"),
    ],
)
def test_bad_values_and_unknown_keys_are_refused_by_their_path(overrides, expected):
    assert expected in problems_with(overrides)


def test_cross_field_rules():
    assert "critique: backend is openai but openai.endpoints is empty" in problems_with(
        {"backend": "openai"}
    )
    assert "drivers.index - drivers.first_index is -1" in problems_with(
        {"drivers": {"first_index": 1}}
    )


def test_a_disabled_follow_up_asks_nothing():
    settings = stage_settings("critique", {"judgement_follow_up": {"enabled": False}})
    assert settings.judgement_follow_up.max_tokens_if_enabled is None


def test_requirements_name_the_critic_and_its_gpus():
    paper = stage_settings("critique", env="paper")
    kinds = {r.kind: r.value for r in paper.requirements()}
    assert kinds == {"component": "vllm", "gpus": 8, "model": paper.model}
    served = stage_settings(
        "critique", {"backend": "openai", "openai": {"endpoints": ["http://h:8000/v1"]}}
    )
    assert [(r.kind, r.value) for r in served.requirements()] == [
        ("component", "openai"),
        ("endpoint", "http://h:8000/v1"),
    ]
