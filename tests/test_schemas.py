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
