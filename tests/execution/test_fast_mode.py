"""Evaluation's mode: stop at the first failing test, cheap time-outs; and call-based (functional)
problems judged the same in C++ and Python."""

from __future__ import annotations

import time

import pytest

from ocr2_kedro.execution import Limits, verify_frame
from ocr2_kedro.schemas import GENERATION, PROBLEM, conform

COUNT_TESTS = [{"input": f"{n}\n", "output": f"{n * n}\n"} for n in range(1, 5)]
SQUARE = "n = int(input())\n"


def _verdicts(result) -> list[str]:
    return [outcome.verdict for outcome in result.tests]


@pytest.mark.parametrize(
    ("body", "full_verdicts"),
    [
        ("print(n * n)", ["AC", "AC", "AC", "AC"]),
        ("print(n * n if n != 2 else 5)", ["AC", "WA", "AC", "AC"]),
        ("assert n != 1\nprint(n * n)", ["RE", "AC", "AC", "AC"]),
        ("while n == 3:\n    pass\nprint(n * n)", ["AC", "AC", "TLE", "AC"]),
        ("print(n * n if n < 4 else 0)", ["AC", "AC", "AC", "WA"]),
    ],
    ids=["AC", "WA-2", "RE-1", "TLE-3", "WA-4"],
)
def test_stop_at_first_failure_agrees_with_the_full_run(verifier, body, full_verdicts):
    code = SQUARE + body
    full = verifier.run_tests(code, "python", COUNT_TESTS, time_limit_s=0.5)
    fast = verifier.run_tests(
        code, "python", COUNT_TESTS, time_limit_s=0.5, stop_at_first_failure=True
    )
    assert _verdicts(full) == full_verdicts, full.error
    first_failure = next((i for i, v in enumerate(full_verdicts) if v != "AC"), None)
    ran = full_verdicts if first_failure is None else full_verdicts[: first_failure + 1]
    assert _verdicts(fast) == ran
    assert (fast.verdict, fast.total) == (full.verdict, 4)
    assert fast.passed == (first_failure if first_failure is not None else 4)
    assert fast.pass_rate == pytest.approx(fast.passed / 4)
    assert fast.pass_rate <= full.pass_rate


def test_later_tests_never_run_after_a_failure(verifier):
    # The third test would sleep until its 20 s deadline: a quick return shows it never started.
    code = "n = int(input())\nif n == 3:\n    import time\n    time.sleep(60)\nprint(n * n if n != 2 else 0)"
    started = time.perf_counter()
    result = verifier.run_tests(
        code, "python", COUNT_TESTS, time_limit_s=20, stop_at_first_failure=True
    )
    assert time.perf_counter() - started < 10
    assert (result.verdict, result.passed, result.total, _verdicts(result)) == (
        "WA",
        1,
        4,
        ["AC", "WA"],
    )


CPP_SLEEP = "#include <unistd.h>\nint main(){ usleep(30 * 1000 * 1000); return 0; }"


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("import time\ntime.sleep(30)", "python"),
        ("while True:\n    pass", "python"),
        (CPP_SLEEP, "cpp"),
    ],
    ids=["python-sleep", "python-busy", "cpp-sleep"],
)
def test_time_outs_cost_about_the_limit(verifier, code, language):
    # The default deadline would be 2 s for a 1 s limit (a sleeping solution waited all of it);
    # the bound leaves room for a loaded host.
    tests = [{"input": "", "output": "0"}] * 3
    result = verifier.run_tests(code, language, tests, time_limit_s=1.0, stop_at_first_failure=True)
    assert (result.verdict, len(result.tests)) == ("TLE", 1), result.error
    assert result.tests[0].time_s < 1.6


def test_cheap_wall_still_accepts_a_solution_under_the_limit(verifier):
    code = "import time\ntime.sleep(0.3)\nprint(sum(range(10 ** 5)) and int(input()) ** 2)"
    result = verifier.run_tests(
        code, "python", COUNT_TESTS[:2], time_limit_s=1.0, stop_at_first_failure=True
    )
    assert result.verdict == "AC", result.error
    full = verifier.run_tests(code, "python", COUNT_TESTS[:2], time_limit_s=1.0, wall_factor=1.0)
    assert full.verdict == "AC", full.error


def test_verify_frame_passes_the_mode_on(cpp_cache_dir):
    problems = conform(
        [{"question_id": "q", "test_type": "stdin", "tests": COUNT_TESTS, "time_limit_s": 1.0}],
        PROBLEM,
    )
    codes = {"right": SQUARE + "print(n * n)", "wrong": SQUARE + "print(n * n if n != 2 else 0)"}
    generations = conform(
        [
            {"generation_id": name, "question_id": "q", "language": "python", "solution": code}
            for name, code in codes.items()
        ],
        GENERATION,
    )
    settings = {"cache_dir": str(cpp_cache_dir), "progress": False}
    full = verify_frame(generations, problems, **settings)
    fast = verify_frame(generations, problems, stop_at_first_failure=True, **settings)
    assert full["verdict"].to_list() == fast["verdict"].to_list() == ["AC", "WA"]
    assert [len(tests) for tests in fast["tests"].to_list()] == [4, 2]
    assert fast["pass_rate"].to_list() == [1.0, 0.25]
    assert full["pass_rate"].to_list() == [1.0, 0.75]


def test_wall_deadline_settings():
    assert Limits(time_limit_s=1.0).to_wire()["wall_s"] == 2.0
    assert Limits(time_limit_s=3.0).to_wire()["wall_s"] == 6.0
    cheap = Limits(time_limit_s=1.0, wall_factor=1.0, wall_slack_s=0.1).to_wire()
    assert (cheap["wall_s"], cheap["cpu_s"]) == (1.1, 1)


def test_kept_code_only_runs_for_the_same_source(verifier):
    # The zygote keeps a solution's compiled code between one-test requests: a request with other
    # source, or one that does not ask to keep it, must never run the kept code.
    sequence = [("a", True), ("a", True), ("b", True), ("a", False), ("b", False), ("b", True)]
    sequence += [("c", True), ("c", True)]
    for index, (name, keep) in enumerate(sequence):
        code = f"print({name!r}, input())"
        (_, stdout, stderr, _) = verifier.sandbox.run_python(
            code, [f"{index}\n".encode()], Limits(), keep_code=keep
        )[0]
        assert stdout.decode().split() == [name, str(index)], stderr


# --- call-based (functional) problems: C++ reads the JSON argument array, prints the JSON result ---

READ_INTEGERS = (
    "#include <bits/stdc++.h>\nusing namespace std;\n"
    "vector<long long> integers(){ string line, number; getline(cin, line); vector<long long> values;\n"
    "  for (char c : line + ' ') { if (isdigit(c) || c == '-') number += c;\n"
    "    else if (!number.empty()) { values.push_back(stoll(number)); number.clear(); } }\n"
    "  return values; }\n"
)
READ_STRING = (
    "#include <bits/stdc++.h>\nusing namespace std;\n"
    "string argument(){ string line; getline(cin, line);\n"
    "  size_t first = line.find('\"'), last = line.rfind('\"');\n"
    "  return line.substr(first + 1, last - first - 1); }\n"
)
FUNCTIONAL = {
    "twoSum": {
        "tests": [
            ("[[2, 7, 11, 15], 9]", "[0, 1]"),
            ("[[3, 2, 4], 6]", "[1, 2]"),
            ("[[3, 3], 6]", "[0, 1]"),
        ],
        "cpp_right": READ_INTEGERS
        + "int main(){ auto v = integers(); long long target = v.back(); v.pop_back(); map<long long, int> seen;\n"
        "  for (int i = 0; i < (int)v.size(); i++) { auto it = seen.find(target - v[i]);\n"
        '    if (it != seen.end()) { cout << "[" << it->second << ", " << i << "]" << endl; return 0; }\n'
        "    seen[v[i]] = i; }\n"
        '  cout << "[]" << endl; }\n',
        # The classic slip: the inner loop starts at i, so an element pairs with itself.
        "cpp_wrong": READ_INTEGERS
        + "int main(){ auto v = integers(); long long target = v.back(); v.pop_back();\n"
        "  for (int i = 0; i < (int)v.size(); i++) for (int j = i; j < (int)v.size(); j++)\n"
        '    if (v[i] + v[j] == target) { cout << "[" << i << ", " << j << "]" << endl; return 0; }\n'
        '  cout << "[]" << endl; }\n',
        "python_right": "class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
        "        seen = {}\n        for i, x in enumerate(nums):\n"
        "            if target - x in seen:\n                return [seen[target - x], i]\n"
        "            seen[x] = i\n",
        "python_wrong": "class Solution:\n    def twoSum(self, nums, target):\n"
        "        return next([i, j] for i in range(len(nums)) for j in range(i, len(nums))"
        " if nums[i] + nums[j] == target)\n",
    },
    "reverseString": {
        "tests": [('["hello"]', '"olleh"'), ('["ab"]', '"ba"'), ('["x"]', '"x"')],
        "cpp_right": READ_STRING
        + "int main(){ string s = argument(); reverse(s.begin(), s.end()); cout << '\"' << s << '\"' << endl; }\n",
        "cpp_wrong": READ_STRING
        + "int main(){ string s = argument(); reverse(s.begin(), s.end());\n"
        "  cout << '\"' << s.substr(0, s.size() - 1) << '\"' << endl; }\n",
        # The right characters without the quotes: not JSON, so not the expected string.
        "cpp_not_json": READ_STRING
        + "int main(){ string s = argument(); reverse(s.begin(), s.end()); cout << s << endl; }\n",
        "python_right": "def reverseString(s):\n    return s[::-1]\n",
        "python_wrong": "def reverseString(s):\n    return s[::-1][:-1]\n",
    },
    "isPowerOfTwo": {
        "tests": [("[1]", "true"), ("[6]", "false"), ("[16]", "true"), ("[0]", "false")],
        "cpp_right": READ_INTEGERS + "int main(){ long long n = integers()[0];\n"
        '  cout << (n > 0 && (n & (n - 1)) == 0 ? "true" : "false") << endl; }\n',
        # A C++ bool streams as 1/0: a number is not a JSON boolean.
        "cpp_wrong": READ_INTEGERS
        + "int main(){ long long n = integers()[0]; cout << (n > 0 && (n & (n - 1)) == 0) << endl; }\n",
        "python_right": "class Solution:\n    def isPowerOfTwo(self, n: int) -> bool:\n"
        "        return n > 0 and n & (n - 1) == 0\n",
        "python_wrong": "class Solution:\n    def isPowerOfTwo(self, n):\n"
        "        return int(n > 0 and n & (n - 1) == 0)\n",
    },
    "average": {
        "tests": [("[[1, 2, 3, 4]]", "2.5"), ("[[1, 2]]", "1.5"), ("[[5]]", "5.0")],
        "cpp_right": READ_INTEGERS
        + "int main(){ auto v = integers(); double total = 0; for (auto x : v) total += x;\n"
        "  cout << setprecision(12) << total / v.size() << endl; }\n",
        "cpp_wrong": READ_INTEGERS
        + "int main(){ auto v = integers(); long long total = 0; for (auto x : v) total += x;\n"
        "  cout << total / (long long)v.size() << endl; }\n",
        "python_right": "def average(nums):\n    return sum(nums) / len(nums)\n",
        "python_wrong": "def average(nums):\n    return sum(nums) // len(nums)\n",
    },
}
EXPECTED = {
    "cpp_right": "AC",
    "cpp_wrong": "WA",
    "cpp_not_json": "WA",
    "python_right": "AC",
    "python_wrong": "WA",
}


@pytest.mark.parametrize("fn_name", list(FUNCTIONAL))
def test_functional_cpp_is_judged_like_python(verifier, fn_name):
    problem = FUNCTIONAL[fn_name]
    tests = [{"input": given, "output": wanted} for given, wanted in problem["tests"]]
    got = {}
    for kind, code in problem.items():
        if kind == "tests":
            continue
        language = kind.split("_")[0]
        full = verifier.run_tests(code, language, tests, test_type="functional", fn_name=fn_name)
        fast = verifier.run_tests(
            code,
            language,
            tests,
            test_type="functional",
            fn_name=fn_name,
            stop_at_first_failure=True,
        )
        assert fast.verdict == full.verdict, (kind, full.error, fast.error)
        got[kind] = full.verdict
    assert got == {kind: EXPECTED[kind] for kind in got}
