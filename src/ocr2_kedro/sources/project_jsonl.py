"""Records already in the PROBLEM contract: the bundled questions and any JSONL written for the
project (`kind: problems`)."""

from __future__ import annotations

from collections.abc import Mapping

from ocr2_kedro.sources.contract_rows import problem_row, reject_or_checked_row
from ocr2_kedro.sources.fields import (
    Normalized,
    check_json,
    date_field,
    input_output_pairs,
    native_id,
    text_field,
)


@reject_or_checked_row
def normalize_problem_record(record: Mapping, source: str, split: str, index: int) -> Normalized:
    """Rows already in the PROBLEM contract (the bundled questions, any local JSONL written for the
    project); `pool: benchmark` puts a question in the held-out benchmark split "test"."""
    question = text_field(record, "question").strip()
    if not question:
        return None, ("empty_statement", "")
    raw_tests = record.get("tests")
    if not raw_tests:
        return None, ("no_tests", "")
    tests = input_output_pairs(raw_tests, "tests")
    test_type = record.get("test_type", "stdin")
    if test_type == "functional":
        for number, test in enumerate(tests):
            check_json(test["input"], f"tests[{number}].input")
            check_json(test["output"], f"tests[{number}].output")
    return problem_row(
        source,
        native_id(record, "source_id"),
        index,
        "test" if record.get("pool") == "benchmark" else record.get("split") or split,
        question,
        tests,
        starter_code=record.get("starter_code"),
        test_type=test_type,
        fn_name=record.get("fn_name"),
        time_limit_s=record.get("time_limit_s"),
        memory_limit_mb=record.get("memory_limit_mb"),
        difficulty=record.get("difficulty"),
        contest_date=date_field(record.get("contest_date"), "contest_date"),
        license=record.get("license", "Apache-2.0"),
        # Null for the bundled questions; a project JSONL may name its judge platform.
        platform=record.get("platform"),
        # Judging like a contest, as the record states it (the contract checks each field).
        **{
            name: record.get(name)
            for name in (
                "checker",
                "checker_language",
                "checker_protocol",
                "needs_checker",
                "float_tolerance",
                "subtasks",
                "grader_files",
            )
        },
    ), None
