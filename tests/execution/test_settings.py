"""The sandbox engine's settings: an unknown keyword is refused (values are checked by the settings
models, tests/parameters/test_execution.py); a max_tests cut is marked on the row."""

from __future__ import annotations

import polars as pl
import pytest

from ocr2_kedro.execution import VerifyPool, verify_frame
from ocr2_kedro.execution.batch import DEFAULT_SETTINGS
from ocr2_kedro.schemas import GENERATION, PROBLEM, conform
from tests.support.parameters import stage_settings


def test_an_unknown_keyword_is_refused_with_the_known_ones():
    with pytest.raises(TypeError, match=r"unexpected verify settings \['time_limt_s'\]; known: "):
        VerifyPool(time_limt_s=2)
    with pytest.raises(TypeError, match="time_limt_s"):
        verify_frame(pl.DataFrame(), pl.DataFrame(), time_limt_s=2)


@pytest.mark.parametrize("stage", ["verify", "evaluation"])
def test_the_settings_models_give_exactly_the_engine_keywords(stage):
    settings = stage_settings(stage)
    judging = settings if stage == "verify" else settings.execution
    assert set(judging.judging_kwargs()) <= set(DEFAULT_SETTINGS)
    with VerifyPool(**judging.verify_kwargs()) as pool:  # starts nothing until rows come
        assert pool.workers == judging.workers
        assert pool.settings["compare_mode"] == judging.compare_mode


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
