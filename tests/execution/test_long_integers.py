"""Integers past Python's int/str digit limit (4,300 digits) are compared exactly, AC or WA, in the
comparison rules and end to end: stdin Python and C++, functional Python and C++, long arguments,
long expected outputs; nothing about them raises."""

from __future__ import annotations

import pytest

from ocr2_kedro.execution import compare_json, compare_stdout
from ocr2_kedro.execution.compare import LongInteger, dump_json, load_json

DIGITS = 5000
BIG = "1" + "0" * (DIGITS - 1)  # 10**4999
BIG_PLUS_ONE = "1" + "0" * (DIGITS - 2) + "1"


@pytest.mark.parametrize(
    ("got", "expected", "same"),
    [
        (BIG, BIG, True),
        (BIG_PLUS_ONE, BIG, False),
        ("000" + BIG, BIG, True),  # leading zeros, as int() would read them
        ("+" + BIG, BIG, True),
        ("-" + BIG, BIG, False),
        ("-" + "0" * DIGITS, "0", True),  # -0 is 0
        (BIG, "1e4999", False),  # an integer never equals a float it overflows
        (BIG + " 7", BIG + " 7", True),
        (BIG[:-1], BIG, False),  # one digit short
    ],
)
def test_long_integers_compare_exactly_as_tokens(got, expected, same):
    assert compare_stdout(got, expected) is same


def test_json_keeps_long_integers_exact_and_writes_them_back():
    value = load_json(f'[{BIG}, -{BIG_PLUS_ONE}, 12, {{"k": {BIG}}}]')
    assert value[0] == LongInteger(BIG) and value[1] == LongInteger("-" + BIG_PLUS_ONE)
    assert value[2] == 12 and isinstance(value[2], int)
    assert dump_json(value) == f'[{BIG}, -{BIG_PLUS_ONE}, 12, {{"k": {BIG}}}]'
    assert dump_json([1, "a", None]) == '[1, "a", null]'  # plain values: json.dumps itself
    assert compare_json(load_json(BIG), load_json(BIG))
    assert not compare_json(load_json(BIG_PLUS_ONE), load_json(BIG))
    assert not compare_json(load_json(BIG), 1.0e308)
    assert not compare_json(load_json(BIG), 5)
    assert not compare_json(load_json(f'"{BIG}"'), load_json(BIG))  # a string is not a number


PY_BIG = "import sys\nsys.set_int_max_str_digits(0)\nprint(10 ** (int(input()) - 1){extra})"
CPP_BIG = (
    "#include <bits/stdc++.h>\nint main(){{ int n; std::cin >> n; std::string s(n - 1, '0');\n"
    '  std::cout << "1" << s.substr(0, n - 2) << "{last}" << std::endl; }}'
)


@pytest.mark.parametrize(
    ("language", "right", "wrong"),
    [
        ("python", PY_BIG.format(extra=""), PY_BIG.format(extra=" + 1")),
        ("cpp", CPP_BIG.format(last="0"), CPP_BIG.format(last="1")),
    ],
)
def test_stdin_long_integer_outputs_are_ac_or_wa(verifier, language, right, wrong):
    tests = [{"input": f"{DIGITS}\n", "output": BIG + "\n"}, {"input": "3\n", "output": "100"}]
    accepted = verifier.run_tests(right, language, tests)
    assert (accepted.verdict, accepted.passed) == ("AC", 2), accepted.error
    rejected = verifier.run_tests(wrong, language, tests)
    assert (rejected.verdict, rejected.passed) == ("WA", 0), rejected.error
    assert [t.verdict for t in rejected.tests] == ["WA", "WA"]


def test_functional_python_long_results_and_arguments(verifier):
    power = [{"input": f"[{DIGITS - 1}]", "output": BIG}, {"input": "[2]", "output": "100"}]
    right = "def power(n):\n    return 10 ** n"
    wrong = "def power(n):\n    return 10 ** n + 1"
    for code, verdict in ((right, "AC"), (wrong, "WA")):
        result = verifier.run_tests(code, "python", power, test_type="functional", fn_name="power")
        assert result.verdict == verdict, result.error
    # A long argument reaches the solution as an int; a long expected output inside a list.
    tail = [{"input": f"[{BIG_PLUS_ONE}]", "output": f"[7, {BIG_PLUS_ONE}]"}]
    code = "class Solution:\n    def tail(self, x):\n        return [x % 10 + 6, x]"
    result = verifier.run_tests(code, "python", tail, test_type="functional", fn_name="tail")
    assert result.verdict == "AC", result.error
    # The solution's own int/str limit is untouched: str() of a long int still raises in it.
    text = "def power(n):\n    return str(10 ** n)"
    result = verifier.run_tests(text, "python", power[:1], test_type="functional", fn_name="power")
    assert result.verdict == "RE" and "ValueError" in result.error


def test_functional_cpp_long_result_and_deep_nesting_are_verdicts(verifier):
    prints = (
        "#include <bits/stdc++.h>\nint main(){{ std::string line; std::getline(std::cin, line);\n"
        "  {body} }}"
    )
    tests = [{"input": "[1]", "output": f"[{BIG}]"}]
    right = prints.format(body=f'std::cout << "[1" << std::string({DIGITS - 1}, \'0\') << "]";')
    wrong = prints.format(body=f'std::cout << "[2" << std::string({DIGITS - 1}, \'0\') << "]";')
    # Nested deeper than Python's recursion limit: not JSON the parent can read, so WA.
    deep = prints.format(body="std::cout << std::string(100000, '[') << std::string(100000, ']');")
    for code, verdict in ((right, "AC"), (wrong, "WA"), (deep, "WA")):
        result = verifier.run_tests(code, "cpp", tests, test_type="functional", fn_name="f")
        assert result.verdict == verdict, result.error


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "expected output is not JSON"),  # deeper than Python goes
        ("[1, 2", "expected output is not JSON"),
    ],
)
def test_an_expected_output_that_cannot_be_read_is_a_bad_problem(verifier, output, message):
    tests = [{"input": "[1]", "output": output}]
    result = verifier.run_tests(
        "def f(x):\n    return x", "python", tests, test_type="functional", fn_name="f"
    )
    assert (
        result.verdict == "SE"
        and result.error.startswith("bad problem")
        and message in (result.error)
    )
