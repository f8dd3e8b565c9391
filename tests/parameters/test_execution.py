"""The judging settings shared by verify and evaluation.execution: every value the sandbox engine
takes is checked here, once, and refused by its full path (what execution.batch.setting_problems
checked before); the sandbox's own uid-range rule; C++ needs g++."""

from __future__ import annotations

import pytest

from ocr2_kedro.execution.compare import COMPARE_MODES
from ocr2_kedro.parameters import ParametersError, validate_settings
from ocr2_kedro.parameters.execution import (
    CompareMode,
    JudgingSettings,
    cpp_compiler_requirements,
)
from tests.support.parameters import raw_parameters


def judging(**changes) -> dict:
    return {**raw_parameters()["evaluation"]["execution"], **changes}


@pytest.mark.parametrize("env", ["base", "paper", "test"])
def test_evaluation_execution_is_judging_settings_as_is(env):
    raw = raw_parameters(env)["evaluation"]["execution"]
    settings = validate_settings(JudgingSettings, raw, "evaluation.execution")
    assert settings.verify_kwargs() == raw


def test_compare_modes_are_the_engines():
    assert set(CompareMode.__args__) == set(COMPARE_MODES)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("default_time_limit_s", -1),
        ("default_time_limit_s", 0),
        ("default_time_limit_s", "2"),
        ("default_memory_limit_mb", 1.5),
        ("time_limit_factor", float("inf")),
        ("max_tests", 0),
        ("compare_mode", "fuzzy"),
        ("wall_factor", -0.5),
        ("allow_weak_isolation", 1),
        ("stop_at_first_failure", "yes"),
        ("sandbox_uids", "61999-61000"),
        ("sandbox_uids", "61000"),
        ("sandbox_uids", "5-10"),
        ("workers", 0),
        ("workers", True),
        ("progress", "no"),
    ],
)
def test_a_bad_value_is_refused_by_its_full_path(key, value):
    with pytest.raises(ParametersError) as raised:
        validate_settings(JudgingSettings, judging(**{key: value}), "evaluation.execution")
    (problem,) = raised.value.problems
    assert problem.startswith(f"evaluation.execution.{key}: ")


def test_an_unknown_key_is_refused_and_null_means_the_engine_default():
    with pytest.raises(ParametersError, match=r"evaluation\.execution\.time_limt_s: unknown key"):
        validate_settings(JudgingSettings, judging(time_limt_s=2), "evaluation.execution")
    good = judging(max_tests=3, wall_factor=None, sandbox_uids="61000-61999", compare_mode="lines")
    settings = validate_settings(JudgingSettings, good, "evaluation.execution")
    assert settings.judging_kwargs()["sandbox_uids"] == "61000-61999"
    assert set(settings.pool_kwargs()) == {"workers", "progress"}


def test_cpp_needs_a_compiler():
    assert cpp_compiler_requirements(["python"], "evaluation.languages") == []
    (needed,) = cpp_compiler_requirements(["python", "cpp"], "evaluation.languages")
    assert (needed.kind, needed.value, needed.path) == ("executable", "g++", "evaluation.languages")
