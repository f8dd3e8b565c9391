"""The verify settings model: the shipped environments validate, the judging settings it shares
with evaluation plus its own (limits, Ray pool, batching, resume folder) refuse a bad value by its
full path, and a Ray backend declares what it needs."""

from __future__ import annotations

import pytest

from ocr2_kedro.execution.batch import DEFAULT_SETTINGS
from ocr2_kedro.execution.resume import verdict_key
from ocr2_kedro.parameters import ParametersError
from ocr2_kedro.parameters.verify import VerifySettings
from tests.support.parameters import stage_settings


def problems_with(overrides: dict) -> list[str]:
    with pytest.raises(ParametersError) as caught:
        stage_settings("verify", overrides)
    return caught.value.problems


@pytest.mark.parametrize("env", ["base", "paper", "test"])
def test_every_shipped_environment_validates(env):
    settings = stage_settings("verify", env=env)
    assert isinstance(settings, VerifySettings)
    assert set(settings.judging_kwargs()) == set(DEFAULT_SETTINGS)
    assert set(settings.verify_kwargs()) - set(DEFAULT_SETTINGS) == {
        "workers",
        "progress",
        "backend",
        "ray_address",
        "ray_batch_size",
    }


def test_conf_base_keeps_the_verdicts_stored_by_earlier_runs():
    # Spelling out every default in YAML must not move the resume folder's verdict key.
    assert verdict_key(stage_settings("verify").judging_kwargs()) == verdict_key({})


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"time_limit_s": 0}, "verify.time_limit_s"),
        ({"memory_limit_mb": -1}, "verify.memory_limit_mb"),
        ({"max_tests": -1}, "verify.max_tests"),
        ({"use_pch": "yes"}, "verify.use_pch"),
        ({"cache_dir": ""}, "verify.cache_dir"),
        ({"backend": "slurm"}, "verify.backend"),
        ({"ray_batch_size": True}, "verify.ray_batch_size"),
        ({"batch_rows": 0}, "verify.batch_rows"),
        ({"resume": {"shard_dir": ""}}, "verify.resume.shard_dir"),
        ({"resume": {"shard_dir": 3}}, "verify.resume.shard_dir"),
        ({"sandbox_uids": "61999-61000"}, "verify.sandbox_uids"),
    ],
)
def test_a_bad_value_is_refused_by_its_full_path(overrides, path):
    (problem,) = problems_with(overrides)
    assert problem.startswith(f"{path}: ")


def test_unknown_keys_are_refused_by_their_full_path():
    problems = problems_with({"time_limt_s": 2, "resume": {"shard_dri": "x"}})
    assert "verify.time_limt_s: unknown key (not a setting of this stage; a typo?)" in problems
    assert any(p.startswith("verify.resume.shard_dri: unknown key") for p in problems)


def test_resume_off_and_ray_declares_its_component():
    assert stage_settings("verify", {"resume": {"shard_dir": None}}).resume.shard_dir is None
    assert stage_settings("verify").requirements() == []
    (ray,) = stage_settings("verify", {"backend": "ray"}).requirements()
    assert (ray.kind, ray.value, ray.path) == ("component", "ray", "verify.backend")
