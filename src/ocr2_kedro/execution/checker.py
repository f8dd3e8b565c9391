"""Judging like a contest: a problem's own judging options (checker, float tolerance, graders).

A problem may carry a checker (schemas.PROBLEM `checker`, `checker_language`): a program from the
data, C++ (testlib) or Python, that reads the test's input, the contestant's output and the expected
answer and decides. It is code from data, so it runs only in the sandbox, like a solution: compiled
there (C++, with the vendored testlib.h written next to it, through the same compile cache as
solutions), then run in a child of its own, per test, after the solution ran (the solution's
sandbox never sees the expected answer). The three files are in its private working directory and
named on its command line, testlib's convention: `checker input.txt output.txt answer.txt`.

Verdicts (testlib's exit codes): 0 ok -> AC; 1 wrong answer -> WA; 2 presentation error -> WA;
3 FAIL -> SE (the checker itself failed: a fault of the problem, never the solution's WA);
7 points (`quitp`) -> the score printed after "points" on its stderr (or the first token of its
stdout), in [0, 1]: AC when 1, otherwise WA with the score kept; 50 + n (`_pc(n)`, checkers are
compiled with PC_BASE_EXIT_CODE=50) -> score n / 100 the same way. Any other exit status, a signal,
a time-out, too much output or memory, an uncaught Python exception -> SE with the reason. A
checker that does not compile is SE for every test (never CE: the solution did nothing wrong).

A second protocol, `checker_protocol="cms"` (CMS / IOI task packages, TPS): the checker is called
`checker input.txt answer.txt output.txt` (the answer before the contestant's output), prints the
score in [0, 1] as the first token of its stdout and its message on stderr, and exits 0; a nonzero
exit, a missing or out-of-range score is SE. The problem's `checker_protocol` column selects it
(the IOI reader sets it, with the task's own testlib inlined into the checker).

`Judging` carries these per-problem options to `Verifier.run_tests` (`Judging.from_problem` builds
it from a problems-frame row).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ocr2_kedro.schemas import CHECKER_LANGUAGES, CHECKER_PROTOCOLS

from .sandbox import Limits

# A checker's own limits, whatever the solution's: generous (it reads three files once), bounded.
CHECKER_LIMITS = Limits(time_limit_s=10.0, memory_limit_mb=1024, output_limit_mb=1)
CHECKER_FILES = ("input.txt", "output.txt", "answer.txt")
# The checker's command-line arguments per protocol (the files are always these three).
CHECKER_ARGS = {
    "testlib": ("input.txt", "output.txt", "answer.txt"),
    "cms": ("input.txt", "answer.txt", "output.txt"),
}
# Compiled into every C++ checker, before anything of it: `_pc(n)` exits 50 + n (testlib's TESTSYS
# base) instead of n, which would read as ok / wrong answer / FAIL.
# `#line 1` keeps the compiler's line numbers those of the checker's own source.
CHECKER_PRELUDE = "#define PC_BASE_EXIT_CODE 50\n#line 1\n"
PC_BASE_EXIT_CODE = 50
PC_MAX = 100
# The exit status of an uncaught exception in a Python checker: testlib's FAIL (SE, not WA).
PYTHON_CHECKER_CRASH = 3
# Grader file names: plain names (no directories), not the solution's own.
GRADER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}\Z")
RESERVED_NAMES = {"solution.cpp", "solution", "testlib.h"}
GRADER_SOURCES = (".cpp", ".cc", ".cxx")
TESTLIB_ENV = "OCR2_TESTLIB_H"
# third_party/testlib/testlib.h of the repository this package is installed from (pip install -e).
TESTLIB_PATH = Path(__file__).resolve().parents[3] / "third_party" / "testlib" / "testlib.h"
SCORE_EPSILON = 1e-9
MESSAGE_CHARS = 500


class CheckerUnavailable(RuntimeError):
    """What a C++ checker needs is missing here (testlib.h): every test of it is SE."""


@cache
def testlib_header() -> bytes:
    """The vendored testlib.h (or the copy `OCR2_TESTLIB_H` names)."""
    path = Path(os.environ.get(TESTLIB_ENV) or TESTLIB_PATH)
    try:
        return path.read_bytes()
    except OSError as error:
        raise CheckerUnavailable(
            f"testlib.h not found at {path} ({error}): C++ checkers need it; install the project "
            f"from its repository (pip install -e .) or set {TESTLIB_ENV}"
        ) from error


@dataclass(frozen=True)
class Judging:
    """How a problem is judged beyond its tests (schemas.PROBLEM's contest columns).

    `checker` / `checker_language`: the checker's source and "cpp" | "python" (None: compare the
    output text). `needs_checker`: the source says several answers are accepted; with no checker
    the solution is not judged at all (verdict None, `judged_by` "unjudged"). `float_tolerance`:
    the absolute-or-relative error the statement allows (None: the verifier's default, 1e-6).
    `grader_files`: (name, content) pairs compiled with a C++ solution (IOI graders and headers:
    headers are included by name, .cpp/.cc/.cxx files compiled and linked)."""

    checker: str | None = None
    checker_language: str | None = None
    needs_checker: bool = False
    float_tolerance: float | None = None
    grader_files: tuple[tuple[str, str], ...] = ()
    checker_protocol: str = "testlib"

    @classmethod
    def from_problem(cls, row: Mapping) -> Judging:
        """From a problems-frame row (a missing column counts as null)."""
        graders = row.get("grader_files") or ()
        return cls(
            checker=row.get("checker") or None,
            checker_language=row.get("checker_language") or None,
            needs_checker=bool(row.get("needs_checker")),
            float_tolerance=row.get("float_tolerance"),
            grader_files=tuple(
                (item.get("name"), item.get("content"))
                if isinstance(item, Mapping)
                else tuple(item)
                for item in graders
            ),
            checker_protocol=row.get("checker_protocol") or "testlib",
        )

    @property
    def has_checker(self) -> bool:
        return bool(self.checker and self.checker.strip())

    @property
    def unjudged(self) -> bool:
        return self.needs_checker and not self.has_checker

    def problem_errors(self) -> list[str]:
        """What makes these options unusable (a fault of the problem, judged SE)."""
        errors = []
        if self.has_checker and self.checker_language not in CHECKER_LANGUAGES:
            errors.append(
                f"checker_language is {self.checker_language!r}; one of {CHECKER_LANGUAGES}"
            )
        if self.has_checker and self.checker_protocol not in CHECKER_PROTOCOLS:
            errors.append(
                f"checker_protocol is {self.checker_protocol!r}; one of {CHECKER_PROTOCOLS}"
            )
        tolerance = self.float_tolerance
        if tolerance is not None and not (
            isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance >= 0
        ):
            errors.append(f"float_tolerance {tolerance!r} is not a finite number >= 0")
        seen = set()
        for entry in self.grader_files:
            name, content = (tuple(entry) + (None, None))[:2]
            if not isinstance(name, str) or not GRADER_NAME.match(name) or name in RESERVED_NAMES:
                errors.append(f"grader file name {name!r} is not a plain file name of its own")
            elif name in seen:
                errors.append(f"grader file {name!r} given twice")
            elif not isinstance(content, str):
                errors.append(f"grader file {name!r} has no text")
            seen.add(name)
        return errors

    def grader_sources(self) -> tuple[str, ...]:
        """The grader files compiled and linked with the solution (the rest are included)."""
        return tuple(name for name, _ in self.grader_files if name.endswith(GRADER_SOURCES))


@dataclass(frozen=True)
class CheckerVerdict:
    verdict: str  # "AC" | "WA" | "SE"
    score: float
    message: str


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace").strip()


def _clip(text: str) -> str:
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS] + " ..."


POINTS = re.compile(r"points\s+([-+0-9.eE]+)")


def _score(value: float, how: str) -> CheckerVerdict | float:
    if not math.isfinite(value) or value < -SCORE_EPSILON or value > 1 + SCORE_EPSILON:
        return CheckerVerdict("SE", 0.0, f"checker gave score {value!r} ({how}), not in [0, 1]")
    return min(1.0, max(0.0, value))


def checker_verdict(
    outcome: dict,
    stdout: bytes,
    stderr: bytes,
    limits: Limits = CHECKER_LIMITS,
    protocol: str = "testlib",
) -> CheckerVerdict:
    """The verdict of one checker run (see the module doc). A set-up failure of the sandbox is
    not decided here (the caller retries it as a sandbox fault)."""
    message = _clip(_text(stderr) if protocol == "cms" else _text(stderr) or _text(stdout))
    if outcome.get("output_exceeded"):
        return CheckerVerdict("SE", 0.0, "checker wrote more output than allowed")
    if outcome.get("timed_out") or outcome.get("cpu_s", 0.0) > limits.time_limit_s:
        return CheckerVerdict("SE", 0.0, f"checker ran past its {limits.time_limit_s:g} s limit")
    if outcome.get("oom_killed") or outcome.get("memory_exceeded"):
        return CheckerVerdict("SE", 0.0, f"checker used over {limits.memory_limit_mb} MB")
    if outcome.get("signal") is not None:
        return CheckerVerdict("SE", 0.0, f"checker killed by signal {outcome['signal']}: {message}")
    code = outcome.get("exit_code")
    if protocol == "cms":
        if code != 0:
            return CheckerVerdict("SE", 0.0, f"checker exited {code}: {message}")
        token = (_text(stdout).split() or [""])[0]
        try:
            score = _score(float(token), "stdout")
        except ValueError:
            return CheckerVerdict("SE", 0.0, f"checker printed no score: {_clip(_text(stdout))}")
        return _partial(score, message)
    if code == 0:
        return CheckerVerdict("AC", 1.0, message)
    if code in (1, 2):
        return CheckerVerdict("WA", 0.0, message)
    if code == 3:
        return CheckerVerdict("SE", 0.0, f"checker failed (FAIL): {message}")
    if code == 7:
        found = POINTS.search(_text(stderr))
        token = found.group(1) if found else (_text(stdout).split() or [""])[0]
        try:
            value = float(token)
        except ValueError:
            return CheckerVerdict("SE", 0.0, f"checker exited 7 (points) with no score: {message}")
        score = _score(value, "points")
    elif code is not None and PC_BASE_EXIT_CODE <= code <= PC_BASE_EXIT_CODE + PC_MAX:
        score = _score((code - PC_BASE_EXIT_CODE) / PC_MAX, "partially correct")
    else:
        return CheckerVerdict("SE", 0.0, f"checker exited {code}: {message}")
    return _partial(score, message)


def _partial(score: CheckerVerdict | float, message: str) -> CheckerVerdict:
    if isinstance(score, CheckerVerdict):
        return score
    if score >= 1 - SCORE_EPSILON:
        return CheckerVerdict("AC", 1.0, message)
    return CheckerVerdict("WA", score, message)
