"""The bundled question set: shape, pools, and reference solutions that pass their own tests."""

import json

import polars as pl
import pytest

from ocr2_kedro.pipelines.ingestion.nodes import split_benchmark_pool
from ocr2_kedro.schemas import PROBLEM
from tests.support.bundled import BUNDLED, BUNDLED_POOLS, bundled_problems

RECORDS = [json.loads(line) for line in BUNDLED.read_text().splitlines() if line.strip()]


def test_bundled_set_shape():
    assert len(RECORDS) >= 40
    assert len({r["source_id"] for r in RECORDS}) == len(RECORDS)
    assert sum(r["test_type"] == "functional" for r in RECORDS) >= 12
    assert {r["difficulty"] for r in RECORDS} == {"easy", "medium", "hard"}
    assert all(
        len(r["tests"]) >= 5 and r["solutions"]["python"] and r["solutions"]["cpp"] for r in RECORDS
    )
    benchmark = [r for r in RECORDS if r["pool"] == "benchmark"]
    train = [r for r in RECORDS if r["pool"] == "train"]
    assert len(benchmark) >= 8
    # The benchmark pool is held out in time: every benchmark contest is later than the base training ones.
    assert min(r["contest_date"] for r in benchmark) > max(
        r["contest_date"] for r in train if r["source_id"] <= "ocr2-028"
    )


def test_normalized_table_and_pools():
    problems, rejects = bundled_problems()
    assert problems.schema == PROBLEM and rejects.is_empty()
    train, benchmark, outside = split_benchmark_pool(problems, BUNDLED_POOLS)
    assert outside.is_empty()
    assert train.height + benchmark.height == len(RECORDS)
    assert set(benchmark["split"]) == {"test"}
    functional = problems.filter(pl.col("test_type") == "functional")
    assert functional["fn_name"].null_count() == 0
    for tests in functional["tests"].to_list():
        assert all(isinstance(json.loads(t["input"]), list) for t in tests)


@pytest.mark.slow
@pytest.mark.parametrize("language", ["python", "cpp"])
def test_reference_solutions_pass_with_the_project_verifier(language):
    from ocr2_kedro.execution import run_tests

    failures = []
    for record in RECORDS:
        result = run_tests(
            record["solutions"][language],
            language,
            record["tests"],
            test_type=record["test_type"],
            fn_name=record["fn_name"],
            time_limit_s=record["time_limit_s"],
            memory_limit_mb=record["memory_limit_mb"],
        )
        if result.verdict != "AC":
            failures.append((record["source_id"], result.verdict, result.error))
    assert failures == []


def test_the_bundled_checker_judges_any_derangement_in_the_sandbox():
    """ocr2-042 ships a checker (Python, testlib's protocol): another right answer than the expected
    output is AC, a wrong one WA; ocr2-043 accepts any split and ships none: never judged by text."""
    from ocr2_kedro.execution.checker import Judging
    from ocr2_kedro.execution.runner import run_tests

    problems = bundled_problems()[0]
    [derangement] = problems.filter(pl.col("source_id") == "ocr2-042").to_dicts()
    [split] = problems.filter(pl.col("source_id") == "ocr2-043").to_dicts()

    def judge(code: str, row: dict):
        return run_tests(code, "python", row["tests"], judging=Judging.from_problem(row))

    # Rotating right (n 1 2 ... n-1) is another derangement than the expected left rotation.
    rotated = "n = int(input())\nprint(n, *range(1, n))\n"
    right = judge(rotated, derangement)
    assert (right.verdict, right.passed, right.judged_by) == ("AC", 5, "checker")
    assert run_tests(rotated, "python", derangement["tests"]).verdict == "WA"  # as text
    wrong = judge("n = int(input())\nprint(*range(1, n + 1))\n", derangement)
    assert (wrong.verdict, wrong.passed) == ("WA", 0)
    unjudged = judge("n = int(input())\nprint(n - 1, 1)\n", split)
    assert (unjudged.verdict, unjudged.pass_rate, unjudged.judged_by) == (None, None, "unjudged")
