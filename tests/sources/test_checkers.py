"""open-r1/codeforces checkers: read by the loader and adapted to the project's checker protocol, then
judged for real in the sandbox (the execution engine's checker runner): a different right answer of
an any-answer problem is AC, a wrong one WA, a checker that crashes SE, and a problem that needs a
checker and ships none is not judged by text."""

import json
from pathlib import Path

import pytest

from ocr2_kedro.execution.checker import Judging
from ocr2_kedro.execution.runner import run_tests
from ocr2_kedro.sources import normalize_record
from ocr2_kedro.sources.checkers import open_r1_checker

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "codeforces_checkers.jsonl"
RECORDS = [json.loads(line) for line in FIXTURE.read_text().splitlines()]


def _normalized(index: int):
    return normalize_record("codeforces", RECORDS[index], "codeforces", "train", index)


@pytest.fixture(scope="module")
def rows():
    return {record["id"]: _normalized(index)[0] for index, record in enumerate(RECORDS)}


def test_the_loader_reads_checker_tolerance_and_any_answer(rows):
    derangement = rows["1999A"]
    assert derangement["checker_language"] == "python"
    assert derangement["needs_checker"] is True
    # The original is kept, inside the adapter, character for character.
    assert repr(RECORDS[0]["generated_checker"]) in derangement["checker"]
    assert derangement["float_tolerance"] is None

    speed = rows["1999B"]
    assert speed["checker"] is None and speed["needs_checker"] is None
    assert speed["float_tolerance"] == pytest.approx(1e-6)

    split = rows["1999C"]  # "you may output any of them", no checker: marked, kept
    assert split["needs_checker"] is True and split["checker"] is None
    assert split["checker_language"] is None

    assert rows["120A"] is None  # file input/output: a reject (below)
    assert _normalized(3) == (None, ("file_input_mode", "input_mode='file'"))


SHIFTED = "n = int(input())\nprint(*([n] + list(range(1, n))))\n"  # n 1 2 ... n-1: a derangement
IDENTITY = "n = int(input())\nprint(*range(1, n + 1))\n"  # p_i = i: never a derangement


def _judge(code: str, row: dict, judging: Judging | None = None):
    return run_tests(
        code,
        "python",
        row["tests"],
        time_limit_s=row["time_limit_s"],
        memory_limit_mb=row["memory_limit_mb"],
        judging=judging or Judging.from_problem(row),
    )


def test_any_derangement_is_judged_by_the_checker_in_the_sandbox(rows):
    derangement = rows["1999A"]
    right = _judge(SHIFTED, derangement)
    assert (right.verdict, right.passed, right.total, right.judged_by) == ("AC", 3, 3, "checker")
    wrong = _judge(IDENTITY, derangement)
    assert (wrong.verdict, wrong.passed, wrong.judged_by) == ("WA", 0, "checker")
    # Compared as text the right answer would be WA on the tests whose expected output differs.
    assert _judge(SHIFTED, derangement, Judging()).verdict == "WA"


def test_a_checker_that_crashes_is_a_fault_not_a_wrong_answer(rows):
    result = _judge("print(1)\n", rows["1999D"])
    assert result.verdict == "SE"
    assert "ZeroDivisionError" in result.error


def test_a_problem_that_needs_a_checker_and_has_none_is_not_judged(rows):
    result = _judge("n = int(input())\nprint(1, n - 1)\n", rows["1999C"])
    assert (result.verdict, result.pass_rate, result.judged_by) == (None, None, "unjudged")


@pytest.mark.parametrize(
    ("printed", "exit_status", "verdict"),
    [
        ('print("100")', 0, "AC"),  # open-r1's runner accepts "1" or "100"
        ('print(" 1 ")', 0, "AC"),  # whitespace around the verdict is ignored
        ('print("0")', 0, "WA"),
        ('print("1")', 2, "WA"),  # a non-zero exit is not an acceptance, whatever was printed
        ('print("yes")', 0, "WA"),
        ("pass", 0, "WA"),  # printed nothing
    ],
)
def test_the_adapter_reads_open_r1_verdicts(printed, exit_status, verdict):
    source = f"import sys\n{printed}\nsys.exit({exit_status})\n"
    judging = Judging(checker=open_r1_checker(source), checker_language="python")
    result = run_tests("print(5)\n", "python", [{"input": "", "output": "5\n"}], judging=judging)
    assert result.verdict == verdict


def test_the_adapter_passes_open_r1_argument_order_and_cleaned_outputs():
    """argv: input, expected, contestant (open-r1's order); CRs and empty lines removed."""
    source = (
        "import sys\n"
        "given, expected, contestant = (open(p).read() for p in sys.argv[1:4])\n"
        'print(1 if (given, expected, contestant) == ("7\\n", "a\\nb\\n", "a\\nb\\n") else 0)\n'
    )
    judging = Judging(checker=open_r1_checker(source), checker_language="python")
    test = [{"input": "7\n", "output": "a\n\nb\n"}]
    assert run_tests('print("a\\r\\n\\nb")\n', "python", test, judging=judging).verdict == "AC"
    # Expected before contestant: a checker that wants the other order rejects the same run.
    ordered = source.replace('"a\\nb\\n", "a\\nb\\n"', '"a\\nb\\n", "x\\n"')
    reversed_ = source.replace('"a\\nb\\n", "a\\nb\\n"', '"x\\n", "a\\nb\\n"')
    for checker, verdict in ((ordered, "AC"), (reversed_, "WA")):
        judging = Judging(checker=open_r1_checker(checker), checker_language="python")
        assert run_tests('print("x")\n', "python", test, judging=judging).verdict == verdict
