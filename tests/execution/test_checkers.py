"""Judging like a contest (issue 24): problem checkers (testlib C++ and Python) run in the sandbox,
problem float tolerances, IOI grader files, partial scores, checker faults as SE, a malicious
checker held by the sandbox (as root and as an unprivileged user), and verify_frame's rows."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import uuid
from pathlib import Path

import polars as pl
import pytest

from ocr2_kedro.execution import Verifier, verify_frame
from ocr2_kedro.execution.checker import Judging, checker_verdict
from ocr2_kedro.pipelines.verify.nodes import verdict_summary
from ocr2_kedro.schemas import GENERATION, PROBLEM, VERIFICATION, conform
from tests.support.attacks import PROJECT_DATA
from tests.support.unprivileged import run_unprivileged

REPO = Path(__file__).resolve().parents[2]

# "Print any permutation of 1..n": the published answer is one of n! right ones.
PERMUTATION_TESTS = [
    {"input": "4\n", "output": "1 2 3 4\n"},
    {"input": "3\n", "output": "1 2 3\n"},
]
TESTLIB_PERMUTATION_CHECKER = r"""
#include "testlib.h"
#include <vector>
int main(int argc, char* argv[]) {
    registerTestlibCmd(argc, argv);
    int n = inf.readInt();
    std::vector<int> seen(n + 1, 0);
    for (int i = 0; i < n; i++) {
        int x = ouf.readInt(1, n, "p_i");
        if (seen[x]++) quitf(_wa, "%d printed twice", x);
    }
    quitf(_ok, "a permutation of %d", n);
}
"""
PYTHON_PERMUTATION_CHECKER = """
import sys
input_file, output_file, answer_file = sys.argv[1:4]
n = int(open(input_file).read().split()[0])
try:
    got = [int(token) for token in open(output_file).read().split()]
except ValueError:
    print("wrong output format: not integers", file=sys.stderr)
    sys.exit(2)
if sorted(got) != list(range(1, n + 1)):
    print(f"wrong answer: {got} is not a permutation of 1..{n}", file=sys.stderr)
    sys.exit(1)
print("ok", file=sys.stderr)
"""
REVERSED = "n = int(input())\nprint(*range(n, 0, -1))"
NOT_A_PERMUTATION = "n = int(input())\nprint(*([1] * n))"

# Sum and product of two numbers, half a point each (testlib quitp); a broken answer is FAIL.
SUM_PRODUCT_CHECKER = r"""
#include "testlib.h"
int main(int argc, char* argv[]) {
    registerTestlibCmd(argc, argv);
    long long sum = ans.readLong(), product = ans.readLong();
    long long got_sum = ouf.readLong(), got_product = ouf.readLong();
    int right = (got_sum == sum) + (got_product == product);
    if (right == 2) quitf(_ok, "both right");
    if (right == 1) quitp(0.5, "one of two right");
    quitf(_wa, "both wrong");
}
"""
SUM_PRODUCT_TESTS = [{"input": "3 4\n", "output": "7 12\n"}, {"input": "2 5\n", "output": "7 10\n"}]
# IOI style: the contestant implements functions, the grader owns main and the I/O.
GRADER_HEADER = "#include <vector>\nlong long sum_of(const std::vector<long long>& v);\n"
GRADER_HEADER += "long long product_of(const std::vector<long long>& v);\n"
GRADER_MAIN = r"""
#include "pair.h"
#include <cstdio>
int main() {
    std::vector<long long> v(2);
    if (std::scanf("%lld %lld", &v[0], &v[1]) != 2) return 1;
    std::printf("%lld %lld\n", sum_of(v), product_of(v));
}
"""
GRADERS = (("pair.h", GRADER_HEADER), ("grader.cpp", GRADER_MAIN))
IOI_RIGHT = """#include "pair.h"
long long sum_of(const std::vector<long long>& v) { return v[0] + v[1]; }
long long product_of(const std::vector<long long>& v) { return v[0] * v[1]; }
"""
IOI_HALF = IOI_RIGHT.replace("return v[0] * v[1];", "return 0;")


def _verdicts(result) -> list[str]:
    return [test.verdict for test in result.tests]


def test_any_permutation_is_accepted_by_a_testlib_checker_and_not_by_text(verifier):
    judging = Judging(checker=TESTLIB_PERMUTATION_CHECKER, checker_language="cpp")
    right = verifier.run_tests(REVERSED, "python", PERMUTATION_TESTS, judging=judging)
    assert (right.verdict, right.passed, right.pass_rate, right.judged_by) == (
        "AC",
        2,
        1.0,
        "checker",
    ), right.error
    assert [test.score for test in right.tests] == [1.0, 1.0]
    wrong = verifier.run_tests(NOT_A_PERMUTATION, "python", PERMUTATION_TESTS, judging=judging)
    assert (wrong.verdict, wrong.passed, _verdicts(wrong)) == ("WA", 0, ["WA", "WA"])
    assert "printed twice" in wrong.error
    # Extra output after the permutation: testlib's "extra information" (PE) is WA.
    extra = verifier.run_tests(
        REVERSED + "\nprint(9)", "python", PERMUTATION_TESTS, judging=judging
    )
    assert extra.verdict == "WA"
    # Text comparison calls the right answer wrong: the reason checkers exist.
    by_text = verifier.run_tests(REVERSED, "python", PERMUTATION_TESTS)
    assert (by_text.verdict, by_text.judged_by) == ("WA", "tokens")


def test_any_permutation_with_a_python_checker_and_a_cpp_solution(verifier):
    judging = Judging(checker=PYTHON_PERMUTATION_CHECKER, checker_language="python")
    cpp_reversed = (
        '#include <cstdio>\nint main(){int n; std::scanf("%d", &n);'
        ' for (int i = n; i >= 1; i--) std::printf("%d ", i); }'
    )
    right = verifier.run_tests(cpp_reversed, "cpp", PERMUTATION_TESTS, judging=judging)
    assert (right.verdict, right.passed, right.judged_by) == ("AC", 2, "checker"), right.error
    wrong = verifier.run_tests(NOT_A_PERMUTATION, "python", PERMUTATION_TESTS, judging=judging)
    assert (wrong.verdict, _verdicts(wrong)) == ("WA", ["WA", "WA"])
    assert "is not a permutation" in wrong.error
    # Evaluation's mode: stops at the first failing test, the checker run per test.
    stopped = verifier.run_tests(
        NOT_A_PERMUTATION, "python", PERMUTATION_TESTS, judging=judging, stop_at_first_failure=True
    )
    assert (stopped.verdict, len(stopped.tests)) == ("WA", 1)
    # The solution's own failure comes first: its checker never runs.
    crashed = verifier.run_tests(
        "raise SystemExit(4)", "python", PERMUTATION_TESTS, judging=judging
    )
    assert crashed.verdict == "RE"


def test_the_stated_float_tolerance_replaces_the_default(verifier):
    tests = [{"input": "", "output": "0.333333333\n"}]
    close = "print(0.33335)"  # 1.7e-5 off: within 1e-4, not within 1e-6
    stated = Judging(float_tolerance=1e-4)
    assert verifier.run_tests(close, "python", tests, judging=stated).verdict == "AC"
    assert verifier.run_tests(close, "python", tests).verdict == "WA"
    assert verifier.run_tests("print(0.3336)", "python", tests, judging=stated).verdict == "WA"
    functional = [{"input": "[3]", "output": "0.333333333"}]
    code = "def third(x):\n    return 1 / x + 1.7e-5"
    result = verifier.run_tests(code, "python", functional, "functional", "third", judging=stated)
    assert (result.verdict, result.judged_by) == ("AC", "json")
    assert verifier.run_tests(code, "python", functional, "functional", "third").verdict == "WA"
    bad = verifier.run_tests(close, "python", tests, judging=Judging(float_tolerance=-1.0))
    assert bad.verdict == "SE" and "float_tolerance" in bad.error


def test_partial_scores_and_a_failing_checker(verifier):
    judging = Judging(checker=SUM_PRODUCT_CHECKER, checker_language="cpp")
    half = "a, b = map(int, input().split())\nprint(a + b, 0)"
    result = verifier.run_tests(half, "python", SUM_PRODUCT_TESTS, judging=judging)
    assert (result.verdict, result.passed, result.pass_rate) == ("WA", 0, 0.0), result.error
    assert [(test.verdict, test.score) for test in result.tests] == [("WA", 0.5), ("WA", 0.5)]
    right = "a, b = map(int, input().split())\nprint(a + b, a * b)"
    full = verifier.run_tests(right, "python", SUM_PRODUCT_TESTS, judging=judging)
    assert (full.verdict, [test.score for test in full.tests]) == ("AC", [1.0, 1.0])
    # testlib's FAIL (exit 3) when the problem's own answer is broken: SE, never WA.
    broken = [*SUM_PRODUCT_TESTS, {"input": "1 1\n", "output": "two one\n"}]
    failed = verifier.run_tests(right, "python", broken, judging=judging)
    assert failed.verdict == "SE"
    assert failed.error.startswith("checker fault on test 2: checker failed (FAIL)")
    assert _verdicts(failed) == ["AC", "AC", "SE"]


# CMS / IOI (TPS) protocol: `checker input answer output`, the score on stdout, exit 0.
CMS_SUM_PRODUCT_CHECKER = """
import sys
input_file, answer_file, output_file = sys.argv[1:4]
expected = open(answer_file).read().split()
got = open(output_file).read().split()
right = sum(g == e for g, e in zip(got, expected)) if len(got) == len(expected) else 0
print(right / len(expected))
print("Correct" if right == len(expected) else "Partially correct", file=sys.stderr)
"""


def test_a_cms_protocol_checker_gives_partial_scores(verifier):
    judging = Judging(
        checker=CMS_SUM_PRODUCT_CHECKER, checker_language="python", checker_protocol="cms"
    )
    half = "a, b = map(int, input().split())\nprint(a + b, 0)"
    result = verifier.run_tests(half, "python", SUM_PRODUCT_TESTS, judging=judging)
    assert [(test.verdict, test.score) for test in result.tests] == [("WA", 0.5), ("WA", 0.5)]
    right = "a, b = map(int, input().split())\nprint(a + b, a * b)"
    assert verifier.run_tests(right, "python", SUM_PRODUCT_TESTS, judging=judging).verdict == "AC"
    # The same checker read as testlib's (its arguments swapped, exit 0): AC whatever the score.
    testlib = Judging(checker=CMS_SUM_PRODUCT_CHECKER, checker_language="python")
    assert verifier.run_tests(half, "python", SUM_PRODUCT_TESTS, judging=testlib).verdict == "AC"
    unknown = Judging(checker="print(1)", checker_language="python", checker_protocol="polygon")
    assert verifier.run_tests(right, "python", SUM_PRODUCT_TESTS, judging=unknown).verdict == "SE"


def test_checker_crashes_and_compile_errors_are_se_never_the_solutions_fault(verifier):
    solution = "print(1)"
    tests = [{"input": "", "output": "1\n"}]
    # A real fault (raise() would not do: the checker is the init of its PID namespace, which
    # ignores signals it sends itself).
    crash = "int main() { volatile int* p = nullptr; return *p; }"
    crashed = verifier.run_tests(
        solution, "python", tests, judging=Judging(checker=crash, checker_language="cpp")
    )
    assert crashed.verdict == "SE" and "checker killed by signal 11" in crashed.error
    raising = "import sys\nraise RuntimeError('checker bug')"
    raised = verifier.run_tests(
        solution, "python", tests, judging=Judging(checker=raising, checker_language="python")
    )
    assert raised.verdict == "SE" and "RuntimeError: checker bug" in raised.error
    odd_exit = "import sys\nsys.exit(42)"
    odd = verifier.run_tests(
        solution, "python", tests, judging=Judging(checker=odd_exit, checker_language="python")
    )
    assert odd.verdict == "SE" and "checker exited 42" in odd.error
    broken = Judging(checker='#include "testlib.h"\nint main( {', checker_language="cpp")
    for language, code in (("python", solution), ("cpp", "int main( {")):
        result = verifier.run_tests(code, language, tests * 2, judging=broken)
        assert (result.verdict, _verdicts(result)) == ("SE", ["SE", "SE"])
        assert result.error.startswith("checker CE")
    unknown = Judging(checker="x", checker_language="java")
    assert verifier.run_tests(solution, "python", tests, judging=unknown).verdict == "SE"


def test_a_cpp_solution_is_compiled_with_the_ioi_graders(verifier):
    judging = Judging(grader_files=GRADERS)
    right = verifier.run_tests(IOI_RIGHT, "cpp", SUM_PRODUCT_TESTS, judging=judging)
    assert (right.verdict, right.passed, right.judged_by) == ("AC", 2, "tokens"), right.error
    # Without the graders the same source has no main: the linker says so (CE, the solution's).
    alone = verifier.run_tests(IOI_RIGHT, "cpp", SUM_PRODUCT_TESTS)
    assert alone.verdict == "CE"
    missing = '#include "pair.h"\nlong long sum_of(const std::vector<long long>& v) { return 0; }'
    unlinked = verifier.run_tests(missing, "cpp", SUM_PRODUCT_TESTS, judging=judging)
    assert unlinked.verdict == "CE" and "product_of" in unlinked.error
    # IOI batch tests with a checker: partial scores per test.
    scored = Judging(checker=SUM_PRODUCT_CHECKER, checker_language="cpp", grader_files=GRADERS)
    half = verifier.run_tests(IOI_HALF, "cpp", SUM_PRODUCT_TESTS, judging=scored)
    assert [test.score for test in half.tests] == [0.5, 0.5], half.error
    python = verifier.run_tests("print(1)", "python", SUM_PRODUCT_TESTS, judging=judging)
    assert python.verdict == "CE" and "grader" in python.error
    unsafe = Judging(grader_files=(("../grader.cpp", "int main(){}"),))
    assert verifier.run_tests(IOI_RIGHT, "cpp", SUM_PRODUCT_TESTS, judging=unsafe).verdict == "SE"


def test_needs_checker_without_one_is_not_judged(verifier):
    result = verifier.run_tests(
        "import os\nos._exit(0)", "python", PERMUTATION_TESTS, judging=Judging(needs_checker=True)
    )
    assert (result.verdict, result.pass_rate, result.judged_by, result.tests) == (
        None,
        None,
        "unjudged",
        [],
    )
    assert "needs_checker" in result.error


@pytest.mark.parametrize(
    ("outcome", "stderr", "expected"),
    [
        ({"exit_code": 0, "signal": None}, b"ok fine", ("AC", 1.0)),
        ({"exit_code": 2, "signal": None}, b"wrong output format", ("WA", 0.0)),
        ({"exit_code": 7, "signal": None}, b"points 0.25 a quarter", ("WA", 0.25)),
        ({"exit_code": 7, "signal": None}, b"points 1", ("AC", 1.0)),
        ({"exit_code": 7, "signal": None}, b"points 3.5", ("SE", 0.0)),
        ({"exit_code": 7, "signal": None}, b"no score", ("SE", 0.0)),
        ({"exit_code": 80, "signal": None}, b"partially correct (30)", ("WA", 0.3)),
        ({"exit_code": None, "signal": 9, "timed_out": True}, b"", ("SE", 0.0)),
    ],
)
def test_testlib_exit_codes(outcome, stderr, expected):
    judged = checker_verdict({"cpu_s": 0.0, **outcome}, b"", stderr)
    assert (judged.verdict, judged.score) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("exit_code", "stdout", "expected"),
    [
        (0, b"1\n", ("AC", 1.0)),
        (0, b"0.25\n", ("WA", 0.25)),
        (0, b"0\n", ("WA", 0.0)),
        (0, b"", ("SE", 0.0)),
        (0, b"1.5", ("SE", 0.0)),
        (1, b"1", ("SE", 0.0)),
    ],
)
def test_cms_protocol_scores(exit_code, stdout, expected):
    judged = checker_verdict(
        {"cpu_s": 0.0, "exit_code": exit_code, "signal": None}, stdout, b"", protocol="cms"
    )
    assert (judged.verdict, judged.score) == pytest.approx(expected)


# --- a malicious checker ---------------------------------------------------------------------
MALICIOUS_CHECKER = """
import os, socket, sys
secrets = {paths!r}
targets = {targets!r}
host_pids = {pids!r}
leaks = []
for path in secrets:
    try:
        leaks.append("read " + path + ": " + open(path).read())
    except OSError:
        pass
try:
    socket.create_connection(("1.1.1.1", 53), timeout=1)
    leaks.append("network")
except OSError:
    pass
for path in targets:
    try:
        with open(path, "w") as handle:
            handle.write("planted")
        leaks.append("wrote " + path)
    except OSError:
        pass
for pid in host_pids + [os.getppid()]:
    if pid > 1:
        try:
            os.kill(pid, 9)
            leaks.append(f"killed {{pid}}")
        except OSError:
            pass
try:
    os.write(5, b"forged sandbox fault")
    leaks.append("wrote the sandbox's status pipe")
except OSError:
    pass
# A forged verdict: testlib's words for accepted, full points, on both streams, then exit 1.
print("ok accepted\\npoints 1")
print("ok accepted\\npoints 1", file=sys.stderr)
if leaks:
    print("LEAKS: " + " | ".join(leaks), file=sys.stderr)
    sys.exit(0)
sys.exit(1)
"""


def malicious_report(verifier: Verifier, secret_paths: list[str], write_dir: str) -> dict:
    """Judge a right answer with the malicious checker, then a normal one on the same sandbox."""
    targets = [
        os.path.join(write_dir, "planted_by_checker"),
        str(REPO / "planted_by_checker"),
        "/usr/planted_by_checker",
        os.path.join(verifier.compile_cache.cache_dir, "planted_by_checker"),
    ]
    layers = verifier.isolation  # starts the zygote: its launcher's host pid is a target too
    pids = [os.getpid(), verifier.sandbox._process.pid]
    checker = MALICIOUS_CHECKER.format(paths=secret_paths, targets=targets, pids=pids)
    judging = Judging(checker=checker, checker_language="python")
    result = verifier.run_tests("print(1, 2, 3)", "python", PERMUTATION_TESTS[1:], judging=judging)
    after = verifier.run_tests(
        REVERSED,
        "python",
        PERMUTATION_TESTS,
        judging=Judging(checker=PYTHON_PERMUTATION_CHECKER, checker_language="python"),
    )
    return {
        "uid": os.geteuid(),
        "layers": layers,
        "verdict": result.verdict,
        "error": result.error,
        "planted": [path for path in targets if os.path.exists(path)],
        "after": after.verdict,
    }


def _assert_held(report: dict, secret: str) -> None:
    # Exit 1 is WA whatever the checker printed; nothing it tried got through.
    assert report["verdict"] == "WA", report
    assert "LEAKS" not in report["error"] and secret not in report["error"], report
    assert report["planted"] == [], report
    assert report["after"] == "AC", report


def test_a_malicious_checker_is_held_by_the_sandbox(verifier, tmp_path):
    secret = f"secret{uuid.uuid4().hex}"
    caller_file = tmp_path / "expected_outputs.txt"
    caller_file.write_text(secret)
    project_file = PROJECT_DATA / f".checker_secret_{uuid.uuid4().hex}.txt"
    project_file.parent.mkdir(parents=True, exist_ok=True)
    project_file.write_text(secret)
    try:
        report = malicious_report(verifier, [str(caller_file), str(project_file)], str(tmp_path))
    finally:
        project_file.unlink()
    _assert_held(report, secret)


@pytest.mark.skipif(os.geteuid() != 0, reason="drops root to an unused uid")
def test_a_malicious_checker_is_held_as_an_unprivileged_user():
    secret = f"secret{uuid.uuid4().hex}"
    project_file = PROJECT_DATA / f".checker_secret_{uuid.uuid4().hex}.txt"
    project_file.parent.mkdir(parents=True, exist_ok=True)
    project_file.write_text(secret)
    os.chmod(project_file, 0o644)
    # World-readable, in the host's /tmp: the user could read it, the checker must not.
    with tempfile.NamedTemporaryFile("w", prefix="ocr2_checker_secret_", delete=False) as handle:
        handle.write(secret)
    os.chmod(handle.name, 0o644)
    try:
        completed = run_unprivileged(
            [sys.executable, "-m", "tests.execution.test_checkers", handle.name, str(project_file)],
            timeout=300,
        )
    finally:
        project_file.unlink()
        os.unlink(handle.name)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout)
    assert report["uid"] != 0 and "user_ns" in report["layers"]
    _assert_held(report, secret)


# --- verify_frame rows ---------------------------------------------------------------------------
def test_verify_frame_rows_carry_judged_by_scores_and_unjudged_problems(cpp_cache_dir):
    problems = conform(
        [
            {
                "question_id": "q_perm",
                "test_type": "stdin",
                "tests": PERMUTATION_TESTS,
                "checker": PYTHON_PERMUTATION_CHECKER,
                "checker_language": "python",
                "needs_checker": True,
            },
            {"question_id": "q_any", "test_type": "stdin", "tests": PERMUTATION_TESTS},
            {
                "question_id": "q_unjudged",
                "test_type": "stdin",
                "tests": PERMUTATION_TESTS,
                "needs_checker": True,
            },
            {
                "question_id": "q_float",
                "test_type": "stdin",
                "tests": [{"input": "", "output": "0.333333333\n"}],
                "float_tolerance": 1e-4,
            },
            {
                "question_id": "q_ioi",
                "test_type": "stdin",
                "tests": SUM_PRODUCT_TESTS,
                "grader_files": [{"name": name, "content": text} for name, text in GRADERS],
            },
        ],
        PROBLEM,
    )
    rows = [
        ("g_perm", "q_perm", "python", REVERSED),
        ("g_any", "q_any", "python", REVERSED),
        ("g_unjudged", "q_unjudged", "python", REVERSED),
        ("g_unjudged_empty", "q_unjudged", "python", None),
        ("g_float", "q_float", "python", "print(0.33335)"),
        ("g_ioi", "q_ioi", "cpp", IOI_RIGHT),
    ]
    generations = conform(
        [
            dict(zip(("generation_id", "question_id", "language", "solution"), row, strict=True))
            for row in rows
        ],
        GENERATION,
    )
    frame = verify_frame(generations, problems, progress=False, cache_dir=str(cpp_cache_dir))
    assert frame.schema == VERIFICATION
    got = {row["generation_id"]: row for row in frame.to_dicts()}
    expected = {
        "g_perm": ("AC", 1.0, "checker"),
        "g_any": ("WA", 0.0, "tokens"),
        "g_unjudged": (None, None, "unjudged"),
        "g_unjudged_empty": (None, None, "unjudged"),
        "g_float": ("AC", 1.0, "tokens"),
        "g_ioi": ("AC", 1.0, "tokens"),
    }
    assert {k: (r["verdict"], r["pass_rate"], r["judged_by"]) for k, r in got.items()} == expected
    assert [test["score"] for test in got["g_perm"]["tests"]] == [1.0, 1.0]
    assert "needs_checker" in got["g_unjudged"]["error"]
    assert frame.filter(pl.col("verdict").is_null()).height == 2
    # The verify pipeline's summary: unjudged rows are counted apart, out of the verdict shares
    # and the mean pass rate (4 of the 5 judged rows pass all their tests).
    summary = verdict_summary(frame)
    assert summary["verify_share_judged_by_unjudged"] == pytest.approx(2 / 6)
    assert summary["verify_share_judged_by_checker"] == pytest.approx(1 / 6)
    assert summary["verify_share_AC"] == pytest.approx(3 / 6)
    assert summary["verify_mean_pass_rate"] == pytest.approx(3 / 4)


def _main() -> None:
    """Run as `python -m tests.execution.test_checkers SECRET_FILE...` by the unprivileged test:
    the malicious checker's report as JSON on stdout."""
    with (
        tempfile.TemporaryDirectory(prefix="ocr2_checker_") as work,
        Verifier(cache_dir=os.path.join(work, "cache"), use_pch=False) as verifier,
    ):
        report = malicious_report(verifier, sys.argv[1:], work)
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    _main()
