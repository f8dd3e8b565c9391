"""Verify settings are checked, never dropped: an unknown key or a bad value is an error naming its
full path; a max_tests cut is marked on the row."""

from __future__ import annotations

import polars as pl
import pytest

from ocr2_kedro.execution import VerifyPool, settings_from, verify_frame
from ocr2_kedro.execution.batch import DEFAULT_SETTINGS, setting_problems
from ocr2_kedro.schemas import GENERATION, PROBLEM, conform


def test_unknown_keys_are_named_with_their_path_and_the_known_ones():
    with pytest.raises(ValueError) as raised:
        settings_from({"time_limt_s": 2, "workers": 2}, "verify")
    message = str(raised.value)
    assert "verify.time_limt_s: unknown setting; known: " in message
    assert "time_limit_s" in message.split("known: ")[1]
    # Keys the caller reads besides the judging settings are known only when it says so.
    assert settings_from({"workers": 2}, "verify") == {}
    with pytest.raises(ValueError, match=r"evaluation\.execution\.backend: unknown setting"):
        settings_from({"backend": "ray"}, "evaluation.execution", also_known=("workers",))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("time_limit_s", -1),
        ("time_limit_s", 0),
        ("memory_limit_mb", 1.5),
        ("default_time_limit_s", "2"),
        ("time_limit_factor", float("inf")),
        ("max_tests", 0),
        ("compare_mode", "fuzzy"),
        ("use_pch", "yes"),
        ("wall_factor", -0.5),
        ("allow_weak_isolation", 1),
        ("sandbox_uids", "61999-61000"),
        ("sandbox_uids", "61000"),
        ("workers", 0),
        ("backend", "slurm"),
        ("ray_batch_size", True),
    ],
)
def test_bad_values_are_named_with_their_path(key, value):
    problems = setting_problems({key: value}, "verify")
    assert len(problems) == 1 and problems[0].startswith(f"verify.{key}: {value!r} is not ")
    with pytest.raises(ValueError, match=f"verify.{key}: "):
        settings_from({key: value})


def test_good_values_pass_and_null_means_the_default():
    good = {
        "compare_mode": "lines",
        "time_limit_s": 1.5,
        "memory_limit_mb": 512,
        "max_tests": 3,
        "allow_weak_isolation": True,
        "sandbox_uids": "61000-61999",
        "wall_factor": None,
        "workers": 4,
        "backend": "ray",
    }
    assert setting_problems(good, "verify") == []
    assert settings_from(good) == {
        key: value for key, value in good.items() if key in DEFAULT_SETTINGS and value is not None
    }
    # The pool refuses the same mistakes when used directly.
    with pytest.raises(ValueError, match=r"settings\.time_limt_s: unknown setting"):
        VerifyPool(time_limt_s=2)
    with pytest.raises(ValueError, match=r"settings\.max_tests: -2 is not"):
        VerifyPool(max_tests=-2)


def test_max_tests_truncation_is_marked_on_the_row(tmp_path):
    tests = [{"input": f"{i}\n", "output": f"{i}\n"} for i in range(5)]
    problems = conform(
        [
            {"question_id": "q5", "test_type": "stdin", "tests": tests},
            {"question_id": "q2", "test_type": "stdin", "tests": tests[:2]},
        ],
        PROBLEM,
    )
    generations = conform(
        [
            {"generation_id": "five", "question_id": "q5", "language": "python"},
            {"generation_id": "two", "question_id": "q2", "language": "python"},
            {"generation_id": "orphan", "question_id": "q9", "language": "python"},
        ],
        GENERATION,
    ).with_columns(pl.lit("print(input())").alias("solution"))
    cut = verify_frame(generations, problems, progress=False, cache_dir=str(tmp_path), max_tests=3)
    assert cut.select("generation_id", "verdict", "total", "tests_truncated").rows() == [
        ("five", "AC", 3, 2),
        ("two", "AC", 2, 0),
        ("orphan", "SE", 0, 0),
    ]
    whole = verify_frame(generations, problems, progress=False, cache_dir=str(tmp_path))
    assert whole["tests_truncated"].to_list() == [0, 0, 0]
    assert whole["total"].to_list() == [5, 2, 0]
