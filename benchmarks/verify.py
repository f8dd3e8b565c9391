"""Benchmark: sandboxed verification (`ocr2_kedro.execution.verify_frame`) vs a naive harness.

Workload (fixed seed): 240 Python solutions x 10 stdin tests with mixed verdicts (AC, WA, RE, TLE,
MLE) over 12 synthetic problems, plus a C++ slice (24 solutions, 12 unique sources, x 10 tests).
Baseline, in the same run and with the same number of worker threads: a fresh `python -c <code>`
subprocess per test with a timeout (C++: `g++ -O2 -std=c++17` per solution, then one process per
test), compared with the same comparison function. Prints tests/s, the speed ratio, verdict
agreement, and the per-test overhead next to the bare cost of spawning an interpreter.

Run: .venv/bin/python benchmarks/verify.py [--workers 2] [--write-docs]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from ocr2_kedro.execution import Verifier, compare_stdout, verify_frame
from ocr2_kedro.schemas import GENERATION, PROBLEM, conform

REPO = Path(__file__).resolve().parents[1]
TIME_LIMIT_S = 1.0
MEMORY_LIMIT_MB = 256
TESTS_PER_PROBLEM = 10

# name -> (input builder, reference, correct python, wrong python)
PROBLEMS = {
    "sum": (
        lambda r: f"{r.randint(-(10**9), 10**9)} {r.randint(-(10**9), 10**9)}",
        lambda s: str(sum(map(int, s.split()))),
        "a, b = map(int, input().split())\nprint(a + b)",
        "a, b = map(int, input().split())\nprint(a + b + (a % 7 == 0))",
    ),
    "max": (
        lambda r: " ".join(str(r.randint(0, 999)) for _ in range(50)),
        lambda s: str(max(map(int, s.split()))),
        "print(max(map(int, input().split())))",
        "print(sorted(map(int, input().split()))[-2])",
    ),
    "sort": (
        lambda r: " ".join(str(r.randint(0, 99)) for _ in range(30)),
        lambda s: " ".join(sorted(s.split(), key=int)),
        "print(*sorted(map(int, input().split())))",
        "print(*sorted(input().split()))",
    ),
    "reverse": (
        lambda r: "".join(r.choice("abc") for _ in range(20)),
        lambda s: s[::-1],
        "print(input()[::-1])",
        "print(input()[::-1][1:])",
    ),
    "fib": (
        lambda r: str(r.randint(1, 5000)),
        lambda s: str(_fib(int(s))),
        "n = int(input())\na, b = 0, 1\nfor _ in range(n):\n    a, b = b, (a + b) % 1000000007\nprint(a)",
        "n = int(input())\na, b = 0, 1\nfor _ in range(n):\n    a, b = b, (a + b) % 1000000009\nprint(a)",
    ),
    "primes": (
        lambda r: str(r.randint(10, 20000)),
        lambda s: str(_primes(int(s))),
        "n = int(input())\ns = bytearray([1]) * (n + 1)\ns[0:2] = b'\\x00\\x00'\nfor i in range(2, int(n ** 0.5) + 1):\n    if s[i]:\n        s[i*i::i] = bytearray(len(s[i*i::i]))\nprint(sum(s))",
        "n = int(input())\nprint(sum(1 for k in range(2, n) if all(k % d for d in range(2, int(k ** 0.5) + 1))))",
    ),
    "mean": (
        lambda r: " ".join(str(r.randint(1, 100)) for _ in range(7)),
        lambda s: f"{statistics.mean(map(int, s.split())):.9f}",
        "v = list(map(int, input().split()))\nprint(sum(v) / len(v))",
        "v = list(map(int, input().split()))\nprint(sum(v) // len(v))",
    ),
    "lines": (
        lambda r: str(r.randint(1, 30)),
        lambda s: "\n".join(str(i * i) for i in range(1, int(s) + 1)),
        "for i in range(1, int(input()) + 1):\n    print(i * i)",
        "for i in range(1, int(input())):\n    print(i * i)",
    ),
    "upper": (
        lambda r: "".join(r.choice("abcXYZ") for _ in range(15)),
        lambda s: s.upper(),
        "import sys\nsys.stdout.write(sys.stdin.readline().strip().upper() + '\\n')",
        "print(input().capitalize())",
    ),
    "gcd": (
        lambda r: f"{r.randint(1, 10**6)} {r.randint(1, 10**6)}",
        lambda s: str(_gcd(*map(int, s.split()))),
        "import math\nprint(math.gcd(*map(int, input().split())))",
        "a, b = map(int, input().split())\nprint(min(a, b))",
    ),
    "count": (
        lambda r: " ".join(r.choice(["x", "y"]) for _ in range(40)),
        lambda s: str(s.split().count("x")),
        "print(input().split().count('x'))",
        "print(input().count('x') - 1)",
    ),
    "sumsq": (
        lambda r: str(r.randint(1, 10**5)),
        lambda s: str(sum(i * i for i in range(int(s) + 1))),
        "n = int(input())\nprint(n * (n + 1) * (2 * n + 1) // 6)",
        "n = int(input())\nprint(sum(i * i for i in range(n)))",
    ),
}
FAULTS = {
    "RE": "raise RuntimeError('boom')\n",
    # Too slow on some inputs only, as real TLE solutions are.
    "TLE": "import sys\nif sys.stdin.buffer.peek(1)[:1] in b'12':\n    while True:\n        pass\n",
    "MLE": "hog = [bytearray(1 << 20) for _ in range(1024)]\n",
    "RE_some": "import sys\nif sys.stdin.buffer.peek(1)[:1] in b'13579':\n    sys.exit(3)\n",
}
CPP_SOURCES = {
    "sum": "#include <bits/stdc++.h>\nint main(){ long long a, b; std::cin >> a >> b; std::cout << a + b << '\\n'; }",
    "max": "#include <bits/stdc++.h>\nint main(){ int x, m = -1; while (std::cin >> x) m = std::max(m, x); std::cout << m << '\\n'; }",
    "gcd": "#include <bits/stdc++.h>\nint main(){ long long a, b; std::cin >> a >> b; std::cout << std::gcd(a, b) << '\\n'; }",
    "reverse": "#include <bits/stdc++.h>\nint main(){ std::string s; std::cin >> s; std::reverse(s.begin(), s.end()); std::cout << s << '\\n'; }",
    "count": "#include <bits/stdc++.h>\nint main(){ std::string t; int c = 0; while (std::cin >> t) c += t == \"x\"; std::cout << c << '\\n'; }",
    "sumsq": "#include <bits/stdc++.h>\nint main(){ long long n; std::cin >> n; std::cout << n * (n + 1) * (2 * n + 1) / 6 << '\\n'; }",
}


def _fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, (a + b) % 1000000007
    return a


def _primes(n: int) -> int:
    sieve = bytearray([1]) * (n + 1)
    sieve[0:2] = b"\x00\x00"
    for i in range(2, int(n**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(sieve[i * i :: i]))
    return sum(sieve)


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def build_workload(python_solutions: int = 240, seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = random.Random(seed)
    problems, generations = [], []
    for name, (make_input, reference, _, _) in PROBLEMS.items():
        tests = []
        for _ in range(TESTS_PER_PROBLEM):
            text = make_input(rng)
            tests.append({"input": text + "\n", "output": reference(text) + "\n"})
        problems.append(
            {
                "question_id": name,
                "test_type": "stdin",
                "tests": tests,
                "time_limit_s": TIME_LIMIT_S,
                "memory_limit_mb": MEMORY_LIMIT_MB,
            }
        )
    names = list(PROBLEMS)
    for index in range(python_solutions):
        name = names[index % len(names)]
        _, _, correct, wrong = PROBLEMS[name]
        kind = rng.choices(
            ["AC", "WA", "RE", "RE_some", "TLE", "MLE"], weights=[55, 25, 7, 7, 4, 2]
        )[0]
        code = {"AC": correct, "WA": wrong}.get(kind) or FAULTS[kind] + correct
        generations.append(
            {
                "generation_id": f"py{index}",
                "question_id": name,
                "language": "python",
                "solution": code,
            }
        )
    for index, name in enumerate(list(CPP_SOURCES) * 4):
        source = CPP_SOURCES[name] + ("\n// variant\n" if index % 4 >= 2 else "")
        generations.append(
            {
                "generation_id": f"cpp{index}",
                "question_id": name,
                "language": "cpp",
                "solution": source,
            }
        )
    return conform(generations, GENERATION), conform(problems, PROBLEM)


def baseline_verdict_python(code: str, tests: list[dict]) -> list[str]:
    verdicts = []
    for test in tests:
        try:
            done = subprocess.run(
                [sys.executable, "-c", code],
                input=test["input"].encode(),
                capture_output=True,
                timeout=TIME_LIMIT_S * 2,
                preexec_fn=_memory_limit,
            )
        except subprocess.TimeoutExpired:
            verdicts.append("TLE")
            continue
        verdicts.append(_baseline_judge(done, test))
    return verdicts


def _memory_limit() -> None:
    # What such harnesses usually do (e.g. LiveCodeBench's reliability guard): an address-space cap.
    import resource

    limit = (MEMORY_LIMIT_MB + 256) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _baseline_judge(done: subprocess.CompletedProcess, test: dict) -> str:
    if done.returncode != 0:
        return "MLE" if b"MemoryError" in done.stderr else "RE"
    return "AC" if compare_stdout(done.stdout.decode("utf-8", "replace"), test["output"]) else "WA"


def baseline_verdict_cpp(code: str, tests: list[dict]) -> list[str]:
    with tempfile.TemporaryDirectory() as work:
        Path(work, "s.cpp").write_text(code)
        built = subprocess.run(
            ["g++", "-O2", "-std=c++17", "s.cpp", "-o", "s"], cwd=work, capture_output=True
        )
        if built.returncode != 0:
            return ["CE"] * len(tests)
        verdicts = []
        for test in tests:
            try:
                done = subprocess.run(
                    [os.path.join(work, "s")],
                    input=test["input"].encode(),
                    capture_output=True,
                    timeout=TIME_LIMIT_S * 2,
                )
            except subprocess.TimeoutExpired:
                verdicts.append("TLE")
                continue
            verdicts.append(_baseline_judge(done, test))
        return verdicts


def run_baseline(generations: pl.DataFrame, problems: pl.DataFrame, workers: int) -> dict[str, str]:
    tests_by_question = {row["question_id"]: row["tests"] for row in problems.to_dicts()}

    def one(row: dict) -> tuple[str, str]:
        tests = tests_by_question[row["question_id"]]
        judge = baseline_verdict_cpp if row["language"] == "cpp" else baseline_verdict_python
        verdicts = judge(row["solution"], tests)
        return row["generation_id"], next((v for v in verdicts if v != "AC"), "AC")

    with ThreadPoolExecutor(workers) as pool:
        return dict(pool.map(one, generations.to_dicts()))


def cpu_seconds() -> float:
    """User + system CPU of this process and of its waited-for descendants (zygotes and their
    children are reaped when the verifiers close, so they are included)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def spawn_cost_ms(argv: list[str], repeats: int = 30) -> float:
    started = time.perf_counter()
    for _ in range(repeats):
        subprocess.run(argv, check=True)
    return (time.perf_counter() - started) / repeats * 1000


def sandbox_overhead_ms(cache_dir: str, repeats: int = 300) -> float:
    with Verifier(cache_dir=cache_dir) as verifier:
        tests = [{"input": "", "output": ""}] * repeats
        verifier.run_tests("pass", "python", tests[:5])
        started = time.perf_counter()
        result = verifier.run_tests("pass", "python", tests)
        elapsed = time.perf_counter() - started
        assert result.verdict == "AC", result
    return elapsed / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--python-solutions", type=int, default=240)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    generations, problems = build_workload(args.python_solutions)
    tests_total = sum(
        len(t)
        for t in generations.join(problems.select("question_id", "tests"), on="question_id")[
            "tests"
        ].to_list()
    )
    cache_dir = tempfile.mkdtemp(prefix="ocr2_bench_cpp_")
    try:
        # Cold start on both sides: an empty C++ cache, so the sandbox's time includes building
        # the precompiled <bits/stdc++.h> (once per host in production, where the cache persists).
        started, cpu_started = time.perf_counter(), cpu_seconds()
        ours = verify_frame(
            generations, problems, workers=args.workers, cache_dir=cache_dir, progress=False
        )
        ours_s, ours_cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
        started, cpu_started = time.perf_counter(), cpu_seconds()
        baseline = run_baseline(generations, problems, args.workers)
        baseline_s, baseline_cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
        overhead = sandbox_overhead_ms(cache_dir)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    ours_verdicts = dict(zip(ours["generation_id"], ours["verdict"], strict=True))
    mismatches = {
        gid: (ours_verdicts[gid], verdict)
        for gid, verdict in baseline.items()
        if ours_verdicts[gid] != verdict
    }
    spawn_plain = spawn_cost_ms([sys.executable, "-c", "pass"])
    spawn_isolated = spawn_cost_ms([os.path.realpath(sys.executable), "-I", "-S", "-c", "pass"])
    counts = ours["verdict"].value_counts().sort("verdict")
    verdict_mix = ", ".join(
        f"{v} {c}" for v, c in zip(counts["verdict"], counts["count"], strict=True)
    )
    lines = [
        f"workload: {generations.height} solutions ({(generations['language'] == 'python').sum()} Python, "
        f"{(generations['language'] == 'cpp').sum()} C++), {tests_total} tests, {args.workers} workers, "
        f"{os.cpu_count()} cores; verdicts: {verdict_mix}",
        f"sandbox (verify_frame): {ours_s:.1f} s, {tests_total / ours_s:.0f} tests/s",
        f"baseline (python -c / g++ per solution): {baseline_s:.1f} s, {tests_total / baseline_s:.0f} tests/s",
        f"speed-up: {baseline_s / ours_s:.2f}x; verdicts identical: {len(baseline) - len(mismatches)}/{len(baseline)}",
        f"CPU time (user+sys, this process and all it started): sandbox {ours_cpu:.1f} s, baseline "
        f"{baseline_cpu:.1f} s ({baseline_cpu / ours_cpu:.2f}x; less sensitive to other load on the box)",
        f"per-test overhead in the sandbox (trivial solution): {overhead:.2f} ms; bare spawn `python -c pass` "
        f"{spawn_plain:.1f} ms, `python -I -S -c pass` {spawn_isolated:.1f} ms",
    ]
    if mismatches:
        lines.append(f"verdict mismatches (ours, baseline): {dict(list(mismatches.items())[:10])}")
    print("\n".join(lines))
    if args.write_docs:
        write_docs(lines, args)


def write_docs(lines: list[str], args: argparse.Namespace) -> None:
    docs = REPO / "docs" / "benchmarks.md"
    command = f".venv/bin/python benchmarks/verify.py --workers {args.workers} --write-docs"
    section = "\n".join(
        [
            "## verify",
            "",
            "Sandboxed execution (`ocr2_kedro.execution.verify_frame`, warm zygote per worker, one fork per test,",
            "C++ compile cache + precompiled header) against a naive harness in the same run: a fresh",
            "`python -c` subprocess per test with a timeout, and `g++ -O2` per C++ solution. Same worker count,",
            "same comparison function. The sandbox also pays for its isolation (namespaces, cgroups, uid,",
            "rlimits, cleanup) which the baseline does not have. The sandbox starts cold: empty C++ cache,",
            "so its time includes building the precompiled <bits/stdc++.h> (~4 s of CPU, overlapped with the",
            "first Python rows; in production the cache persists and this happens once per host).",
            "",
            f"Command: `{command}` ({time.strftime('%Y-%m-%d')}, shared 2-core CPU box)",
            "",
            "```",
            *lines,
            "```",
            "",
            "",
        ]
    )
    text = docs.read_text() if docs.exists() else "# Benchmarks\n\n"
    if "## verify" in text:
        start = text.index("## verify")
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1 :] if end != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    docs.parent.mkdir(parents=True, exist_ok=True)
    docs.write_text(text)


if __name__ == "__main__":
    main()
