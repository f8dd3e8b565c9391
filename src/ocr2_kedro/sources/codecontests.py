"""CodeContests (deepmind/code_contests): public, private and generated tests together."""

from __future__ import annotations

from collections.abc import Mapping

from ocr2_kedro.sources.contract_rows import problem_row, reject_or_checked_row
from ocr2_kedro.sources.fields import (
    BadRecord,
    Normalized,
    finite_number,
    input_output_pairs,
    is_number,
    native_id,
    preview,
    text_field,
)
from ocr2_kedro.sources.statements import judging_fields

_CODECONTESTS_DIFFICULTY = {
    0: None,
    1: "easy",
    2: "medium",
    3: "hard",
    7: "easy",
    8: "medium",
    9: "hard",
}


def _codecontests_block(block: object, key: str) -> list[dict]:
    """One of public/private/generated tests: {input: [...], output: [...]} as published, or a
    list of {input, output} pairs."""
    if block is None:
        return []
    if isinstance(block, list):
        return input_output_pairs(block, key)
    if not isinstance(block, Mapping):
        raise BadRecord("unparseable_tests", f"{key} is a {type(block).__name__}")
    inputs, outputs = block.get("input") or [], block.get("output") or []
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise BadRecord("unparseable_tests", f"{key}: input/output are not lists")
    if len(inputs) != len(outputs):
        raise BadRecord(
            "unparseable_tests", f"{key}: {len(inputs)} inputs vs {len(outputs)} outputs"
        )
    return input_output_pairs(
        [{"input": i, "output": o} for i, o in zip(inputs, outputs, strict=True)], key
    )


def _codecontests_seconds(limit: object) -> float | None:
    if not limit:
        return None
    if is_number(limit):
        return finite_number(limit)
    if not isinstance(limit, Mapping):
        raise BadRecord("malformed_field", f"time_limit is a {type(limit).__name__}")
    seconds, nanos = (
        finite_number(limit.get("seconds") or 0),
        finite_number(limit.get("nanos") or 0),
    )
    if seconds is None or nanos is None:
        raise BadRecord("malformed_field", "time_limit seconds/nanos are not finite numbers")
    return seconds + nanos / 1e9 or None


def _codecontests_megabytes(memory: object) -> int | None:
    if not memory:
        return None
    number = finite_number(memory)
    if number is None:
        raise BadRecord("malformed_field", f"memory_limit_bytes={preview(memory)}")
    return int(number // 2**20) or None


@reject_or_checked_row
def normalize_codecontests(record: Mapping, split: str, index: int) -> Normalized:
    """deepmind/code_contests rows: `description`, public/private/generated tests as {input, output}
    lists, `time_limit` {seconds, nanos}, `memory_limit_bytes`, integer `difficulty`."""
    question = text_field(record, "description").strip()
    if not question:
        return None, ("empty_statement", "")
    tests = []
    for key in ("public_tests", "private_tests", "generated_tests"):
        tests += _codecontests_block(record.get(key), key)
    if not tests:
        return None, ("no_tests", "")
    difficulty = record.get("difficulty")
    return problem_row(
        "codecontests",
        native_id(record, "name"),
        index,
        split,
        question,
        tests,
        time_limit_s=_codecontests_seconds(record.get("time_limit")),
        memory_limit_mb=_codecontests_megabytes(record.get("memory_limit_bytes")),
        difficulty=_CODECONTESTS_DIFFICULTY.get(difficulty) if type(difficulty) is int else None,
        license="CC-BY-4.0",
        # The data set ships no checker and no "several answers" flag: the statement says.
        **judging_fields(question),
    ), None
