"""Benchmark: what a checker costs per test against the text comparison it replaces.

Workload: one Python solution (prints n..1) on N "print any permutation" tests (n = 1..N), one warm
`Verifier` with a fresh compile cache. Judged three ways in the same run: the token comparison in the
parent (the baseline; it calls the right answer WA), a Python checker (a forked zygote child per
test) and a testlib C++ checker (compiled once, then a sandboxed child per test). Prints the first
C++ checker compile, then per way the verdict, the median seconds for all N tests over `--rounds`
and the milliseconds per test, and each checker's ratio to the baseline.

Run (from the repository root, which holds the test checkers it reuses):
PYTHONPATH=. .venv/bin/python benchmarks/checkers.py [--tests 50] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from ocr2_kedro.execution import Verifier
from ocr2_kedro.execution.checker import Judging
from tests.execution.test_checkers import (
    PYTHON_PERMUTATION_CHECKER,
    REVERSED,
    TESTLIB_PERMUTATION_CHECKER,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tests = [
        {"input": f"{n}\n", "output": " ".join(map(str, range(1, n + 1))) + "\n"}
        for n in range(1, args.tests + 1)
    ]
    ways = {
        "text (tokens)": None,
        "python checker": Judging(checker=PYTHON_PERMUTATION_CHECKER, checker_language="python"),
        "testlib C++ checker": Judging(checker=TESTLIB_PERMUTATION_CHECKER, checker_language="cpp"),
    }
    with tempfile.TemporaryDirectory() as cache, Verifier(cache_dir=cache) as verifier:
        started = time.perf_counter()
        verifier.run_tests(REVERSED, "python", tests[:1], judging=ways["testlib C++ checker"])
        print(f"first C++ checker compile (testlib, -O2): {time.perf_counter() - started:.2f} s")
        print("| judged by | verdict | s per run | ms per test | x text |")
        print("|---|---|---|---|---|")
        baseline = None
        for name, judging in ways.items():
            times = []
            for _ in range(args.rounds):
                started = time.perf_counter()
                result = verifier.run_tests(REVERSED, "python", tests, judging=judging)
                times.append(time.perf_counter() - started)
            median = statistics.median(times)
            baseline = baseline or median
            print(
                f"| {name} | {result.verdict} | {median:.3f} | {median / args.tests * 1000:.2f} "
                f"| {median / baseline:.2f} |"
            )


if __name__ == "__main__":
    main()
