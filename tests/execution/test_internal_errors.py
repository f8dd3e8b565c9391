"""No exception from judging one solution ends a run: it becomes that row's SE with the error's type
and message, at once (a deterministic error is not retried), and the next solution is judged as
usual; a sandbox fault is still retried."""

from __future__ import annotations

import math

import polars as pl

from ocr2_kedro.execution import SandboxError, Verifier, verify_frame
from ocr2_kedro.execution.batch import DEFAULT_SETTINGS, verify_row
from ocr2_kedro.execution.runner import SE_RETRIES
from ocr2_kedro.schemas import GENERATION, PROBLEM, VERIFICATION, conform

ECHO = [{"input": "5\n", "output": "5\n"}, {"input": "7\n", "output": "7\n"}]
ECHO_CODE = "print(input())"


class FaultyVerifier(Verifier):
    """A real verifier (sandbox, compile cache) whose judging of a marked solution raises, as a bug
    in the judging code would; counts how often it was tried."""

    def __init__(self, *args, fault: type[Exception] = RuntimeError, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fault, self.tries = fault, 0

    def _judge(self, code, *args):
        if "FAULT" in code:
            self.tries += 1
            raise self.fault("the comparison broke")
        return super()._judge(code, *args)


def test_an_internal_error_is_the_rows_se_once_and_the_next_solution_is_judged(cpp_cache_dir):
    with FaultyVerifier(cache_dir=str(cpp_cache_dir)) as verifier:
        broken = verifier.run_tests("# FAULT\n" + ECHO_CODE, "python", ECHO)
        assert (broken.verdict, broken.passed, broken.total) == ("SE", 0, 2)
        assert broken.error == "internal error: RuntimeError: the comparison broke"
        assert [t.verdict for t in broken.tests] == ["SE", "SE"]
        assert verifier.tries == 1  # deterministic: not retried
        assert verifier.run_tests(ECHO_CODE, "python", ECHO).verdict == "AC"


def test_a_sandbox_fault_is_still_retried(cpp_cache_dir):
    with FaultyVerifier(cache_dir=str(cpp_cache_dir), fault=SandboxError) as verifier:
        result = verifier.run_tests("# FAULT\n" + ECHO_CODE, "python", ECHO)
        assert result.verdict == "SE" and "after retries" in result.error
        assert verifier.tries == SE_RETRIES + 1


def test_verify_row_never_raises(verifier):
    settings = {**DEFAULT_SETTINGS, "cache_dir": None}
    good = {
        "generation_id": "g-ok",
        "question_id": "q",
        "language": "python",
        "solution": ECHO_CODE,
        "tests": ECHO,
        "test_type": "stdin",
        "_has_problem": True,
    }
    # A time limit that is not a number (a malformed row built by hand) fails in verify_row itself.
    broken = verify_row(
        verifier, {**good, "generation_id": "g-bad", "time_limit_s": "fast"}, settings
    )
    assert broken["verdict"] == "SE" and broken["error"].startswith("internal error: ValueError")
    assert broken["generation_id"] == "g-bad" and broken["tests_truncated"] == 0
    assert conform([broken], VERIFICATION).height == 1
    assert verify_row(verifier, good, settings)["verdict"] == "AC"


def test_a_row_that_breaks_the_judging_does_not_end_the_frame(cpp_cache_dir):
    """A NaN time limit (bad source data) makes building the sandbox limits raise ValueError: that
    row is SE with the error, the rows around it are judged."""
    problems = conform(
        [
            {"question_id": "q-nan", "test_type": "stdin", "tests": ECHO, "time_limit_s": math.nan},
            {"question_id": "q-ok", "test_type": "stdin", "tests": ECHO, "time_limit_s": 1.0},
        ],
        PROBLEM,
    )
    generations = conform(
        [
            {
                "generation_id": "a",
                "question_id": "q-ok",
                "language": "python",
                "solution": ECHO_CODE,
            },
            {
                "generation_id": "b",
                "question_id": "q-nan",
                "language": "python",
                "solution": ECHO_CODE,
            },
            {
                "generation_id": "c",
                "question_id": "q-ok",
                "language": "python",
                "solution": "print(1)",
            },
        ],
        GENERATION,
    )
    result = verify_frame(generations, problems, progress=False, cache_dir=str(cpp_cache_dir))
    assert result.schema == VERIFICATION
    assert result["verdict"].to_list() == ["AC", "SE", "WA"]
    error = result.filter(pl.col("generation_id") == "b")["error"].item()
    assert error.startswith("internal error: ValueError"), error
