"""Held-out benchmark pools: date windows, and the explicit rule for questions with no date."""

import datetime

import polars as pl
import pytest

from ocr2_kedro.parameters import ParametersError
from ocr2_kedro.pipelines.ingestion.nodes import split_benchmark_pool
from ocr2_kedro.schemas import PROBLEM, conform
from tests.support.parameters import stage_settings


def _problems() -> pl.DataFrame:
    rows = [
        ("lcb-in", "livecodebench", "test", datetime.date(2024, 9, 1)),
        ("lcb-old", "livecodebench", "test", datetime.date(2023, 1, 1)),
        ("lcb-undated", "livecodebench", "test", None),
        ("cc-undated", "codecontests", "test", None),
        ("taco-train", "taco", "train", None),
    ]
    return conform(
        [
            {"question_id": qid, "source": source, "source_id": qid, "split": split}
            | {"question": qid, "contest_date": date}
            for qid, source, split, date in rows
        ],
        PROBLEM,
    )


WINDOW = {"source": "livecodebench", "split": "test", "from": "2024-08-01", "to": "2025-05-01"}
UNDATED_POOL = {"source": "codecontests", "split": "test"}


def _pools(*pools: dict) -> list:
    """`pools` as the ingestion settings hold them (validated, conf/base around them)."""
    return stage_settings("ingestion", {"benchmark_pools": list(pools)}).benchmark_pools


def _ids(frame: pl.DataFrame) -> set[str]:
    return set(frame["source_id"])


def test_undated_questions_in_a_dated_pool_are_rejects_by_default():
    train, benchmark, rejects = split_benchmark_pool(_problems(), _pools(WINDOW, UNDATED_POOL))
    assert _ids(train) == {"taco-train"}
    # A pool without a window holds out its undated questions (CodeContests test); the dated pool
    # keeps only what is inside the window.
    assert _ids(benchmark) == {"lcb-in", "cc-undated"}
    assert sorted(rejects.select("record_id", "reason").rows()) == [
        ("lcb-old", "outside_benchmark_window"),
        ("lcb-undated", "undated_benchmark_question"),
    ]
    assert rejects["detail"].null_count() == 0
    # Every question is in exactly one place.
    assert train.height + benchmark.height + rejects.height == _problems().height


def test_undated_questions_can_be_held_out_explicitly():
    pools = _pools(dict(WINDOW, undated="hold_out"), UNDATED_POOL)
    train, benchmark, rejects = split_benchmark_pool(_problems(), pools)
    assert _ids(benchmark) == {"lcb-in", "lcb-undated", "cc-undated"}
    assert rejects.select("record_id", "reason").rows() == [("lcb-old", "outside_benchmark_window")]
    assert _ids(train) == {"taco-train"}


@pytest.mark.parametrize(
    ("pool", "message"),
    [
        (dict(WINDOW, undated="train"), "benchmark_pools.0.undated: Input should be 'reject' or"),
        (dict(WINDOW, form="2024-01-01"), "benchmark_pools.0.form: unknown key"),
        ({"source": "livecodebench"}, "benchmark_pools.0.split: missing"),
        (dict(WINDOW, to="2024-08-01"), "benchmark_pools.0: the window from 2024-08-01 to"),
        (dict(WINDOW, source="livecodebnech"), "source='livecodebnech' is not the name of a"),
    ],
)
def test_a_mistaken_pool_is_an_error_naming_it(pool, message):
    with pytest.raises(ParametersError, match=message):
        _pools(pool)
