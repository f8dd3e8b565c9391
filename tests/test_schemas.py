"""The PROBLEM contract check every normalized source row goes through."""

import datetime

import pytest

from ocr2_kedro.schemas import PROBLEM, conform, problem_contract_violation

ROW = {
    "question_id": "q1",
    "source": "bundled",
    "source_id": "1",
    "split": "train",
    "question": "Print 1.",
    "starter_code": "",
    "test_type": "stdin",
    "fn_name": None,
    "tests": [{"input": "", "output": "1\n"}],
    "time_limit_s": 1.0,
    "memory_limit_mb": 64,
    "difficulty": "easy",
    "contest_date": datetime.date(2024, 1, 1),
    "license": "MIT",
    "platform": None,
}
FUNCTIONAL = dict(
    ROW, test_type="functional", fn_name="total", tests=[{"input": "[[1, 2, 3]]", "output": "6"}]
)


def test_rows_in_the_contract_pass_and_conform():
    long_integer = "[" + "9" * 5000 + "]"  # integers of any length are JSON
    rows = [ROW, FUNCTIONAL, dict(FUNCTIONAL, tests=[{"input": long_integer, "output": "1"}])]
    assert [problem_contract_violation(row) for row in rows] == [None, None, None]
    assert conform(rows, PROBLEM).height == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"question": "   "}, "question is empty"),
        ({"question": ["text"]}, "question is a list"),
        ({"source_id": None}, "source_id is missing"),
        ({"starter_code": 3}, "starter_code is a int"),
        ({"question": "\ud800"}, "lone surrogate"),
        ({"test_type": "interactive"}, "test_type='interactive'"),
        ({"tests": []}, "non-empty list"),
        ({"tests": "1"}, "non-empty list"),
        ({"tests": [{"input": "1"}]}, "tests[0] is not an {input, output} pair"),
        ({"tests": [{"input": 1, "output": "1"}]}, "tests[0].input is a int"),
        ({"tests": [{"input": "1", "output": None}]}, "tests[0].output is missing"),
        ({"time_limit_s": -1.0}, "time_limit_s=-1.0"),
        ({"time_limit_s": float("inf")}, "time_limit_s=inf"),
        ({"time_limit_s": 10**400}, "time_limit_s="),
        ({"time_limit_s": "2"}, "time_limit_s is a str"),
        ({"time_limit_s": True}, "time_limit_s is a bool"),
        ({"memory_limit_mb": 0}, "memory_limit_mb=0"),
        ({"memory_limit_mb": 2**63}, "not a positive 64-bit integer"),
        ({"memory_limit_mb": 256.5}, "memory_limit_mb is a float"),
        ({"contest_date": "2024-01-01"}, "contest_date is a str"),
        ({"contest_date": datetime.datetime(2024, 1, 1)}, "contest_date is a datetime"),
        ({"solutions": {}}, "columns outside the contract"),
    ],
)
def test_each_way_of_breaking_the_contract_is_named(change, message):
    assert message in problem_contract_violation(dict(ROW, **change))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fn_name": None}, "needs a function name"),
        ({"fn_name": "not a name"}, "needs a function name"),
        ({"tests": [{"input": "5", "output": "5"}]}, "JSON int, not an array of arguments"),
        ({"tests": [{"input": "[1, 2", "output": "3"}]}, "tests[0].input is not JSON"),
        ({"tests": [{"input": "[1]", "output": "{bad"}]}, "tests[0].output is not JSON"),
    ],
)
def test_functional_rows_need_a_function_and_json_arguments(change, message):
    assert message in problem_contract_violation(dict(FUNCTIONAL, **change))


JUDGED = dict(
    ROW,
    tests=[{"input": "", "output": "1\n"}, {"input": "2", "output": "3\n"}],
    checker="import sys\nsys.exit(0)\n",
    checker_language="python",
    needs_checker=True,
    float_tolerance=1e-6,
    subtasks=[
        {"name": "samples", "points": 0.0, "tests": [0]},
        {"name": "full", "points": 100.0, "tests": [0, 1]},
    ],
    grader_files=[
        {"name": "grader.cpp", "content": "int main(){}"},
        {"name": "a.h", "content": ""},
    ],
)


def test_rows_with_contest_judging_fields_pass_and_conform():
    needs_only = dict(ROW, needs_checker=True)  # marked: needs a checker, ships none
    cpp = dict(JUDGED, checker_language="cpp", needs_checker=False)
    assert [problem_contract_violation(r) for r in (JUDGED, needs_only, cpp)] == [None] * 3
    frame = conform([JUDGED, needs_only, cpp], PROBLEM)
    assert frame["subtasks"].to_list()[0][1] == {"name": "full", "points": 100.0, "tests": [0, 1]}
    assert frame["needs_checker"].to_list() == [True, True, False]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"checker": 5}, "checker is a int"),
        ({"checker": "  "}, "checker is empty"),
        ({"checker_language": "java"}, "checker_language='java' is not one of ['cpp', 'python']"),
        ({"checker_language": None}, "checker_language=None is not one of"),
        ({"checker": None}, "checker_language='python' without a checker"),
        ({"needs_checker": "yes"}, "needs_checker is a str, not a boolean"),
        ({"needs_checker": 1}, "needs_checker is a int, not a boolean"),
        ({"float_tolerance": 0.0}, "float_tolerance=0.0 is not a finite number in (0, 1)"),
        ({"float_tolerance": -1e-6}, "float_tolerance=-1e-06"),
        ({"float_tolerance": 1.0}, "float_tolerance=1.0"),
        ({"float_tolerance": float("nan")}, "float_tolerance=nan"),
        ({"float_tolerance": float("inf")}, "float_tolerance=inf"),
        ({"float_tolerance": "1e-6"}, "float_tolerance is a str"),
        ({"float_tolerance": True}, "float_tolerance is a bool"),
        ({"subtasks": []}, "subtasks is not a non-empty list"),
        (
            {"subtasks": [{"name": "a", "points": 1.0}]},
            "subtasks[0] is not a {name, points, tests}",
        ),
        ({"subtasks": [{"name": "a", "points": -1.0, "tests": [0]}]}, "subtasks[0].points=-1.0"),
        (
            {"subtasks": [{"name": "a", "points": float("nan"), "tests": [0]}]},
            "subtasks[0].points=nan",
        ),
        ({"subtasks": [{"name": "a", "points": "5", "tests": [0]}]}, "subtasks[0].points='5'"),
        ({"subtasks": [{"name": "a", "points": 1.0, "tests": []}]}, "subtasks[0].tests is not"),
        ({"subtasks": [{"name": "a", "points": 1.0, "tests": [2]}]}, "index 2 is outside the 2"),
        ({"subtasks": [{"name": "a", "points": 1.0, "tests": [-1]}]}, "index -1 is outside"),
        ({"subtasks": [{"name": "a", "points": 1.0, "tests": [True]}]}, "holds a bool"),
        ({"subtasks": [{"name": 7, "points": 1.0, "tests": [0]}]}, "subtasks[0].name is a int"),
        ({"grader_files": {"a.h": ""}}, "grader_files is a dict"),
        ({"grader_files": [{"name": "a.h"}]}, "grader_files[0] is not a {name, content}"),
        ({"grader_files": [{"name": "../x.h", "content": ""}]}, "not a plain file name"),
        ({"grader_files": [{"name": "dir/x.h", "content": ""}]}, "not a plain file name"),
        ({"grader_files": [{"name": "..", "content": ""}]}, "not a plain file name"),
        ({"grader_files": [{"name": "a\\b.h", "content": ""}]}, "not a plain file name"),
        ({"grader_files": [{"name": "", "content": ""}]}, "grader_files[0].name is empty"),
        (
            {"grader_files": [{"name": "a.h", "content": None}]},
            "grader_files[0].content is missing",
        ),
        ({"grader_files": [{"name": "a.h", "content": b"x"}]}, "content is a bytes"),
        (
            {"grader_files": [{"name": "a.h", "content": ""}, {"name": "a.h", "content": ""}]},
            "grader_files[1].name='a.h' appears twice",
        ),
    ],
)
def test_each_way_of_breaking_the_judging_fields_is_named(change, message):
    violation = problem_contract_violation(dict(JUDGED, **change))
    assert violation is not None and message in violation
