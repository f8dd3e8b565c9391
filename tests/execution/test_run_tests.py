"""Semantics of run_tests: verdicts, functional problems in both languages, limits, bad problems."""

from __future__ import annotations

import pytest

from ocr2_kedro.execution import run_tests

SUM = [
    {"input": "1 2\n", "output": "3\n"},
    {"input": "20 22\n", "output": "42\n"},
    {"input": "0 0", "output": "0"},
]
CPP_SUM = "#include <bits/stdc++.h>\nint main(){ long long a, b; std::cin >> a >> b; std::cout << a + b << '\\n'; }"


def test_public_run_tests_accepts_and_rejects():
    accepted = run_tests("a, b = map(int, input().split())\nprint(a + b)", "python", SUM)
    assert (accepted.verdict, accepted.passed, accepted.total, accepted.pass_rate) == (
        "AC",
        3,
        3,
        1.0,
    )
    assert [t.verdict for t in accepted.tests] == ["AC"] * 3
    assert all(t.time_s > 0 for t in accepted.tests)
    assert accepted.isolation
    partial = run_tests("a, b = map(int, input().split())\nprint(a + b if a else 7)", "python", SUM)
    assert (partial.verdict, partial.passed) == ("WA", 2)
    assert partial.pass_rate == pytest.approx(2 / 3)


def test_runtime_error_carries_the_traceback(verifier):
    result = verifier.run_tests("raise ValueError('boom')", "python", SUM)
    assert result.verdict == "RE"
    assert "ValueError: boom" in result.error


def test_prefix_and_extra_lines_never_pass(verifier):
    tests = [{"input": "", "output": "1\n2\n"}]
    assert verifier.run_tests("print(1)", "python", tests).verdict == "WA"
    assert verifier.run_tests("print(1)\nprint(2)\nprint(3)", "python", tests).verdict == "WA"
    assert verifier.run_tests("print('1 2')", "python", tests).verdict == "AC"
    assert verifier.run_tests("print('1 2')", "python", tests, compare_mode="lines").verdict == "WA"


def test_deep_recursion_works_like_on_judges(verifier):
    python = (
        "import sys\nsys.setrecursionlimit(10 ** 6)\n"
        "def depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\n"
        "print(depth(int(input())))\n"
    )
    assert (
        verifier.run_tests(python, "python", [{"input": "200000", "output": "200000"}]).verdict
        == "AC"
    )
    threaded = (
        "import sys, threading\nsys.setrecursionlimit(10 ** 6)\nthreading.stack_size(1 << 27)\n"
        "def depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\n"
        "def main():\n    print(depth(int(input())))\n"
        "threading.Thread(target=main).start()\n"
    )
    assert (
        verifier.run_tests(threaded, "python", [{"input": "100000", "output": "100000"}]).verdict
        == "AC"
    )
    cpp = (
        "#include <cstdio>\nint depth(int n){ volatile char pad[64]; pad[0] = 0; return n == 0 ? pad[0] : 1 + depth(n - 1); }\n"
        'int main(){ int n; scanf("%d", &n); printf("%d\\n", depth(n)); }'
    )
    assert (
        verifier.run_tests(cpp, "cpp", [{"input": "1000000", "output": "1000000"}]).verdict == "AC"
    )


def test_many_threads_start_like_on_judges(verifier):
    """40 threads under 256 MB (the usual limit) start in both languages: a thread's default
    stack is 8 MiB, not the main thread's stack limit, so the address-space backstop (memory
    limit + 1 GiB) holds them; the main thread still recurses deep (1M frames in C++)."""
    python = (
        "import threading\nresults = []\n"
        "threads = [threading.Thread(target=results.append, args=(1,)) for _ in range(40)]\n"
        "for t in threads:\n    t.start()\nfor t in threads:\n    t.join()\n"
        "a, b = map(int, input().split())\nprint(a + b + len(results) - 40)\n"
    )
    cpp = (
        "#include <bits/stdc++.h>\n"
        "int depth(int n){ volatile char pad[64]; pad[0] = 0; return n == 0 ? pad[0] : 1 + depth(n - 1); }\n"
        "int main(){ long long a, b; std::cin >> a >> b; std::atomic<int> started{0};\n"
        "  std::vector<std::thread> threads;\n"
        "  for (int i = 0; i < 40; i++) threads.emplace_back([&]{ started++; });\n"
        "  for (auto& t : threads) t.join();\n"
        '  std::cout << a + b + started - 40 + depth(1000000) - 1000000 << "\\n"; }\n'
    )
    tests = [{"input": "1 2\n", "output": "3\n"}]
    for code, language in ((python, "python"), (cpp, "cpp")):
        result = verifier.run_tests(code, language, tests, time_limit_s=5, memory_limit_mb=256)
        assert result.verdict == "AC", (language, result.error)


def test_functional_python_class_and_plain_function(verifier):
    tests = [
        {"input": "[[2, 7, 11, 15], 9]", "output": "[0, 1]"},
        {"input": "[[3, 3], 6]", "output": "[0, 1]"},
    ]
    leetcode = (
        "class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
        "        seen = {}\n        for i, x in enumerate(nums):\n"
        "            if target - x in seen:\n                return (seen[target - x], i)\n"
        "            seen[x] = i\n"
    )
    result = verifier.run_tests(leetcode, "python", tests, test_type="functional", fn_name="twoSum")
    assert result.verdict == "AC", result.error
    plain = "def twoSum(nums, target):\n    print('debug output is ignored')\n    return [0, 2]\n"
    assert (
        verifier.run_tests(plain, "python", tests, test_type="functional", fn_name="twoSum").verdict
        == "WA"
    )
    # LiveCodeBench's one-argument-per-line text is normalized at ingestion; the runner takes only
    # the contract's JSON array of arguments and refuses anything else instead of guessing.
    lcb_style = [{"input": "[2, 7, 11, 15]\n9", "output": "[0, 1]"}]
    refused = verifier.run_tests(
        leetcode, "python", lcb_style, test_type="functional", fn_name="twoSum"
    )
    assert refused.verdict == "SE" and "JSON array of the arguments" in refused.error
    # One list argument is `[[1, 2, 3]]`: never spread into three arguments.
    total = "def total(nums):\n    return sum(nums)\n"
    one_list = [{"input": "[[1, 2, 3]]", "output": "6"}]
    assert (
        verifier.run_tests(
            total, "python", one_list, test_type="functional", fn_name="total"
        ).verdict
        == "AC"
    )
    bare = verifier.run_tests(
        total,
        "python",
        [{"input": "[1, 2, 3]", "output": "6"}],
        test_type="functional",
        fn_name="total",
    )
    assert bare.verdict in ("RE", "WA")  # three arguments to a one-argument function
    scalar = verifier.run_tests(
        total, "python", [{"input": "5", "output": "5"}], test_type="functional", fn_name="total"
    )
    assert scalar.verdict == "SE" and "is a JSON int" in scalar.error
    floats = [{"input": "[1, 3]", "output": "0.3333333333"}]
    assert (
        verifier.run_tests(
            "def div(a, b):\n    return a / b",
            "python",
            floats,
            test_type="functional",
            fn_name="div",
        ).verdict
        == "AC"
    )


def test_functional_cpp_reads_json_args_and_prints_json(verifier):
    code = (
        "#include <bits/stdc++.h>\nusing namespace std;\n"
        "int main(){ string line; getline(cin, line); long long total = 0; string number;\n"
        "  for (char c : line) { if (isdigit(c) || c == '-') number += c; else if (!number.empty()) { total += stoll(number); number.clear(); } }\n"
        '  if (!number.empty()) total += stoll(number);\n  cout << "[" << total << "]" << endl; }'
    )
    tests = [{"input": "[[1, 2, 3], 4]", "output": "[10]"}, {"input": "[[5], -5]", "output": "[0]"}]
    assert (
        verifier.run_tests(code, "cpp", tests, test_type="functional", fn_name="sum").verdict
        == "AC"
    )


def test_cpp_stdin_and_compile_cache(verifier, cpp_cache_dir):
    first = verifier.run_tests(CPP_SUM, "cpp", SUM)
    assert first.verdict == "AC", first.error
    cached = verifier.run_tests(CPP_SUM, "cpp", SUM)
    assert cached.verdict == "AC" and cached.compile_s == 0.0
    assert (cpp_cache_dir / verifier.compile_cache.key(CPP_SUM)).exists()
    # A solution that clashes with the precompiled <bits/stdc++.h> still compiles plainly.
    clash = '#include <cstdio>\nint y1 = 3;\nint main(){ long a, b; scanf("%ld %ld", &a, &b); printf("%ld\\n", a + b + y1 - 3); }'
    assert verifier.run_tests(clash, "cpp", SUM).verdict == "AC"
    tle = "int main(){ volatile unsigned long x = 0; while (true) x++; }"
    assert verifier.run_tests(tle, "cpp", SUM[:1], time_limit_s=0.5).verdict == "TLE"


@pytest.mark.parametrize(
    ("tests", "test_type", "fn_name", "message"),
    [
        ([], "stdin", None, "no tests"),
        (None, "stdin", None, "no tests"),
        ([{"input": "[1, 2", "output": "3"}], "functional", "f", "not JSON"),
        ([{"input": "[1, 2]", "output": "{bad"}], "functional", "f", "not JSON"),
        ([{"input": "[1]", "output": "1"}], "functional", None, "fn_name"),
        ([{"input": "1"}], "stdin", None, "lacks input or output"),
        ([{"input": "1", "output": "1"}], "interactive", None, "test_type"),
    ],
)
def test_bad_problems_give_clear_errors(verifier, tests, test_type, fn_name, message):
    result = verifier.run_tests("print(1)", "python", tests, test_type=test_type, fn_name=fn_name)
    assert result.verdict == "SE"
    assert result.error.startswith("bad problem") and message in result.error


@pytest.mark.parametrize("code", [None, "", "   \n"])
def test_empty_solution_is_ce(verifier, code):
    result = verifier.run_tests(code, "python", SUM)
    assert (result.verdict, result.total, result.error) == ("CE", 3, "empty solution")
