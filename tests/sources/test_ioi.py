"""open-r1's IOI layout -> one PROBLEM row per IOI task: subtasks sharing tests, grader files,
limits; tasks that cannot be judged and broken data become rejects with their reason."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from ocr2_kedro.parameters.ingestion import SourceSettings
from ocr2_kedro.pipelines.ingestion.nodes import normalize_source
from ocr2_kedro.schemas import PROBLEM, conform
from ocr2_kedro.sources.ioi import group_ioi_records, normalize_ioi
from ocr2_kedro.sources.readers import RecordSource, UnreadableRecord
from tests.fixtures.ioi import make_fixtures

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ioi"


def _fixture_source() -> RecordSource:
    return RecordSource(path=str(FIXTURES), splits=("train", "test"))


def _normalized(records) -> tuple[dict[str, dict], dict[str, tuple[str, str]]]:
    rows, rejects = {}, {}
    for split, index, record in group_ioi_records(records):
        if isinstance(record, UnreadableRecord):
            rejects[record.where] = (record.reason, record.error)
            continue
        row, reject = normalize_ioi(record, split, index)
        if row is None:
            rejects[f"{record['year']}-{record['id']}"] = reject
        else:
            rows[row["source_id"]] = row
    return rows, rejects


def test_the_fixture_files_are_what_the_generator_writes(tmp_path):
    make_fixtures.write(tmp_path)
    for part in (
        "ioi/data/test-00000-of-00001.parquet",
        "ioi-test-cases/2024/train-00000-of-00001.parquet",
    ):
        assert pq.read_table(tmp_path / part).equals(pq.read_table(FIXTURES / part)), part


def test_the_fixtures_become_one_row_per_task_with_subtasks_sharing_tests():
    rows, rejects = _normalized(_fixture_source().iter_records())
    assert set(rows) == {"2024-sumvec", "2024-maxpair"}
    sumvec = rows["2024-sumvec"]
    # Five distinct tests, in the order the subtasks first name them; the subtasks share them.
    assert [test["input"] for test in sumvec["tests"]] == [
        make_fixtures.SUMVEC_TESTS[name][0] for name in ("0-01", "1-01", "1-02", "2-01", "2-02")
    ]
    assert sumvec["subtasks"] == [
        {"name": "0", "points": 0.0, "tests": [0]},
        {"name": "1", "points": 30.0, "tests": [0, 1, 2]},
        {"name": "2", "points": 70.0, "tests": [0, 1, 2, 3, 4]},
    ]
    # The grader and the header are compiled with the solution; grader_config.json is not.
    assert [file["name"] for file in sumvec["grader_files"]] == ["grader.cpp", "sumvec.h"]
    assert sumvec["grader_files"][0]["content"] == make_fixtures.SUMVEC_GRADER
    assert sumvec["test_type"] == "stdin"
    assert (sumvec["time_limit_s"], sumvec["memory_limit_mb"]) == (1.0, 256)
    assert sumvec["starter_code"].startswith('#include "sumvec.h"')
    assert sumvec["question"].startswith("# Sum")
    assert (sumvec["source"], sumvec["split"], sumvec["checker"]) == ("ioi", "test", None)
    maxpair = rows["2024-maxpair"]
    assert maxpair["grader_files"] is None  # a plain stdin task
    assert maxpair["subtasks"] == [
        {"name": "1", "points": 40.0, "tests": [0, 1]},
        {"name": "2", "points": 60.0, "tests": [0, 1, 2, 3]},
    ]
    assert rejects == {
        "2024-relay": (
            "unsupported_task_type",
            "2024-relay: task_type='Communication': only Batch tasks (a grader or stdin) are "
            "judged",
        )
    }
    conform(list(rows.values()), PROBLEM)  # fits the table's types


def test_the_ingestion_node_reads_the_layout_and_counts_the_rejects():
    settings = SourceSettings(name="ioi", kind="ioi", enabled=True, limit=None)
    problems, rejects = normalize_source(_fixture_source(), settings)
    assert problems.schema == PROBLEM
    assert sorted(problems["source_id"]) == ["2024-maxpair", "2024-sumvec"]
    [subtasks] = problems.filter(pl.col("source_id") == "2024-sumvec")["subtasks"].to_list()
    assert [subtask["tests"] for subtask in subtasks] == [[0], [0, 1, 2], [0, 1, 2, 3, 4]]
    assert rejects["reason"].to_list() == ["unsupported_task_type"]


def _subtask(subtask: str, score, tests, **fields) -> dict:
    return {
        "year": 2024,
        "id": "task",
        "name": "Task",
        "day": "day1",
        "subtask": subtask,
        "statement": "Do it.",
        "score": score,
        "time_limit": 1.0,
        "memory_limit": 512,
        "score_precision": 2,
        "task_type": "Batch",
        "test_names": tests,
        "starting_code": "",
        "grader_files": [],
        "problem": "Do it.",
        **fields,
    }


def _test(name: str, data: str = "1\n", problem_id: str = "task") -> dict:
    return {
        "year": 2024,
        "day": "day1",
        "problem_name": "Task",
        "problem_id": problem_id,
        "test_name": name,
        "test_input": data,
        "test_output": data,
    }


def _records(*records: dict) -> list[tuple[str, int, dict]]:
    return [("test", index, record) for index, record in enumerate(records)]


@pytest.mark.parametrize(
    ("records", "reason", "detail"),
    [
        (
            [_subtask("1", 50, ["a"]), _subtask("2", 50, ["a", "b"]), _test("a")],
            "missing_test_case",
            "test 'b' has no test case",
        ),
        ([_subtask("1", 100, []), _test("a")], "bad_subtask", "subtask '1' names no test"),
        ([_subtask("1", -5, ["a"]), _test("a")], "bad_subtask", "subtask '1': score=-5"),
        (
            [_subtask("1", 100, ["a"]), _test("a", "1\n"), _test("a", "2\n")],
            "conflicting_test_case",
            "test 'a' is given twice, differently",
        ),
        (
            [_subtask("1", 40, ["a"]), _subtask("2", 60, ["a"], time_limit=2.0), _test("a")],
            "inconsistent_subtasks",
            "time_limit differs between subtasks",
        ),
        (
            [_subtask("1", 100, ["a"], task_type="OutputOnly"), _test("a")],
            "unsupported_task_type",
            "task_type='OutputOnly'",
        ),
        (
            [_subtask("1", 100, ["a"], grader_files=[["graders/grader.cpp"]]), _test("a")],
            "malformed_field",
            "grader_files holds",
        ),
        (
            [_subtask("1", 100, ["a"], grader_files=[["graders/../x.h", "int x;"]]), _test("a")],
            "malformed_field",
            "is not graders/<file>",
        ),
    ],
)
def test_broken_tasks_are_rejects_with_a_reason(records, reason, detail):
    rows, rejects = _normalized(_records(*records))
    assert rows == {}
    assert list(rejects) == ["2024-task"]
    got_reason, got_detail = rejects["2024-task"]
    assert got_reason == reason
    assert detail in got_detail


def test_a_record_of_neither_layout_or_an_unreadable_one_is_passed_on_as_a_reject():
    unreadable = UnreadableRecord("x.jsonl:3", "unreadable_line", "not JSON")
    records = [("test", 0, {"question": "?"}), ("test", 1, unreadable)]
    grouped = list(group_ioi_records(records))
    assert [(item[2].where, item[2].reason) for item in grouped] == [
        ("test/0", "unrecognized_record"),
        ("x.jsonl:3", "unreadable_line"),
    ]


def test_a_duplicated_test_row_with_the_same_data_is_one_test_and_bytes_become_megabytes():
    rows, rejects = _normalized(
        _records(
            _subtask("1", 100, ["a", "a"], memory_limit=1 << 30),
            _test("a"),
            _test("a"),
            _test("unused"),  # named by no subtask: not scored, not kept
            _test("a", problem_id="other"),  # another task's test with no subtask rows
        )
    )
    assert rejects == {}
    [row] = rows.values()
    assert row["tests"] == [{"input": "1\n", "output": "1\n"}]
    assert row["subtasks"] == [{"name": "1", "points": 100.0, "tests": [0]}]
    assert row["memory_limit_mb"] == 1024


def test_a_checker_is_kept_as_the_problem_checker_to_run_in_the_sandbox():
    checker = '#include "testlib.h"\nint main() { return 0; }\n'
    rows, _ = _normalized(
        _records(
            _subtask(
                "1",
                100,
                ["a"],
                grader_files=[["checker/checker.cpp", checker], ["graders/task.h", "void f();"]],
            ),
            _test("a"),
        )
    )
    [row] = rows.values()
    assert (row["checker"], row["checker_language"]) == (checker, "cpp")
    assert row["checker_protocol"] == "cms"  # IOI checkers print a score (execution/checker.py)
    assert row["grader_files"] == [{"name": "task.h", "content": "void f();"}]


def test_the_tasks_own_testlib_is_inlined_into_its_checker():
    # IOI packages ship a CMS variant of testlib (registerChecker) beside the checker; the stock
    # header the sandbox provides lacks it, so the task's own replaces the include line.
    checker = '#include <cstdio>\n#include "testlib.h"\nint main() { registerChecker("t"); }\n'
    header = "void registerChecker(const char*) {}\n"
    rows, _ = _normalized(
        _records(
            _subtask(
                "1",
                100,
                ["a"],
                grader_files=[["checker/checker.cpp", checker], ["checker/testlib.h", header]],
            ),
            _test("a"),
        )
    )
    [row] = rows.values()
    assert row["checker"] == (
        '#include <cstdio>\nvoid registerChecker(const char*) {}\n\nint main() { registerChecker("t"); }\n'
    )
    assert row["grader_files"] is None
