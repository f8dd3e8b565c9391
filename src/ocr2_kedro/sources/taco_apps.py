"""TACO (BAAI/TACO) and APPS (codeparrot/apps): one schema, stdin or call-based tests."""

from __future__ import annotations

import json
from collections.abc import Mapping

from ocr2_kedro.sources.contract_rows import problem_row, reject_or_checked_row
from ocr2_kedro.sources.fields import (
    BadRecord,
    Normalized,
    json_field,
    native_id,
    optional_text_field,
    parse_memory_limit,
    parse_time_limit,
    text_field,
)
from ocr2_kedro.sources.statements import judging_fields


def _dumps(value: object, what: str) -> str:
    try:
        return json.dumps(value)
    except (ValueError, TypeError, RecursionError) as error:
        raise BadRecord("unparseable_tests", f"{what}: {error}") from None


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else _dumps(value, "test")


def _functional_tests(inputs: list, outputs: list) -> list[dict]:
    # Call-based sources store each test's arguments as a list; the contract wants a JSON array.
    tests = []
    for arguments, expected in zip(inputs, outputs, strict=True):
        if not isinstance(arguments, list):
            arguments = [arguments]
        # APPS/TACO wrap the returned value in a one-element list.
        if isinstance(expected, list) and len(expected) == 1:
            expected = expected[0]
        tests.append({"input": _dumps(arguments, "input"), "output": _dumps(expected, "output")})
    return tests


@reject_or_checked_row
def normalize_taco_or_apps(record: Mapping, source: str, split: str, index: int) -> Normalized:
    """TACO / APPS rows: `question`, `input_output` (JSON string: inputs, outputs, optional fn_name),
    `starter_code`, `difficulty`; TACO adds `time_limit` / `memory_limit` strings. APPS names a
    question by `problem_id` (`id` in its raw JSONL); TACO names none."""
    question = text_field(record, "question").strip()
    if not question:
        return None, ("empty_statement", "")
    io = json_field(record, "input_output", dict, "unparseable_tests")
    inputs, outputs = io.get("inputs") or [], io.get("outputs") or []
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        return None, ("unparseable_tests", "input_output inputs/outputs are not lists")
    if len(inputs) != len(outputs):
        return None, ("unparseable_tests", f"{len(inputs)} inputs vs {len(outputs)} outputs")
    if not inputs:
        return None, ("no_tests", "")
    fn_name = io.get("fn_name")
    if fn_name is not None and not isinstance(fn_name, str):
        return None, ("malformed_field", f"input_output fn_name is a {type(fn_name).__name__}")
    tests = (
        _functional_tests(inputs, outputs)
        if fn_name
        else [
            {"input": _as_text(i), "output": _as_text(o)}
            for i, o in zip(inputs, outputs, strict=True)
        ]
    )
    difficulty = optional_text_field(record, "difficulty")
    return problem_row(
        source,
        native_id(record, "problem_id", "id"),
        index,
        split,
        question,
        tests,
        starter_code=record.get("starter_code"),
        test_type="functional" if fn_name else "stdin",
        fn_name=fn_name or None,
        time_limit_s=parse_time_limit(record.get("time_limit")),
        memory_limit_mb=parse_memory_limit(record.get("memory_limit")),
        difficulty=difficulty.lower() if difficulty else None,
        license=record.get("license") or ("Apache-2.0" if source == "taco" else "MIT"),
        # Neither data set ships a checker or a "several answers" flag: the statement says.
        **judging_fields(question),
    ), None
