"""LiveCodeBench (livecodebench/code_generation_lite): public tests as JSON, private tests
compressed and pickled (decoded with `plain_pickle`, never by running what the data names),
call-based inputs one JSON argument per line."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Mapping

from ocr2_kedro.sources.contract_rows import problem_row, reject_or_checked_row
from ocr2_kedro.sources.fields import (
    BadRecord,
    Normalized,
    check_json,
    date_field,
    input_output_pairs,
    json_field,
    native_id,
    optional_text_field,
    text_field,
)
from ocr2_kedro.sources.plain_pickle import UnsafePayloadError, loads_plain_pickle
from ocr2_kedro.sources.statements import judging_fields

# Decompressed private tests above this size are refused: a few kilobytes of zlib can expand to
# gigabytes, and the largest LiveCodeBench test sets are tens of megabytes.
MAX_DECODED_BYTES = 1 << 30


def decode_lcb_private_tests(blob: str) -> list[dict]:
    """LiveCodeBench private tests: JSON, or base64(zlib(pickle(JSON string))).

    The pickle is read with `loads_plain_pickle`: the published format pickles a str, so a payload
    that refers to any function or class (a crafted row that would run commands on the host) is
    refused with UnsafePayloadError before anything in it runs.
    """
    try:
        return json.loads(blob)
    except (ValueError, TypeError, RecursionError):
        pass
    decompressor = zlib.decompressobj()
    raw = decompressor.decompress(base64.b64decode(blob.encode("utf-8")), MAX_DECODED_BYTES)
    if decompressor.unconsumed_tail:
        raise ValueError(f"private tests decompress to more than {MAX_DECODED_BYTES} bytes")
    value = loads_plain_pickle(raw)
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if not isinstance(value, str):
        raise ValueError(
            f"private tests unpickle to {type(value).__name__}, expected a JSON string"
        )
    return json.loads(value)


def _lcb_cases(record: Mapping) -> list:
    cases = json_field(record, "public_test_cases", list, "unparseable_tests")
    blob = record.get("private_test_cases")
    if not blob:
        return cases
    if not isinstance(blob, str):
        raise BadRecord("unparseable_tests", f"private_test_cases is a {type(blob).__name__}")
    try:
        private = decode_lcb_private_tests(blob)
    except UnsafePayloadError as error:
        raise BadRecord("unsafe_pickle", f"private_test_cases: {error}") from None
    except (ValueError, TypeError, zlib.error, RecursionError, EOFError) as error:
        raise BadRecord("unparseable_tests", f"private_test_cases: {error}") from None
    if not isinstance(private, list):
        raise BadRecord("unparseable_tests", "private_test_cases is not a list of tests")
    return cases + private


def lcb_functional_arguments(text: str) -> str:
    """LiveCodeBench's call-based test input, one JSON value per line and one line per argument, as
    the contract's JSON array of arguments: "[1, 2, 3]\\n5" -> "[[1, 2, 3], 5]", and a single list
    argument "[1, 2, 3]" -> "[[1, 2, 3]]" (one argument, never three). Lines are split on "\\n" only:
    a JSON string may hold U+2028 and other characters `str.splitlines` would split on. Each
    argument keeps its exact text (integers of any length, floats as written)."""
    arguments = [line.strip() for line in text.split("\n") if line.strip()]
    for number, argument in enumerate(arguments, start=1):
        check_json(argument, f"argument {number}")
    return "[" + ", ".join(arguments) + "]"


@reject_or_checked_row
def normalize_livecodebench(record: Mapping, split: str = "test", index: int = 0) -> Normalized:
    """livecodebench/code_generation_lite rows: `question_content`, `public_test_cases` (JSON string),
    `private_test_cases` (compressed), `metadata` (JSON string with func_name), `contest_date`."""
    question = text_field(record, "question_content").strip()
    if not question:
        return None, ("empty_statement", "")
    cases = _lcb_cases(record)
    metadata = json_field(record, "metadata", dict, "malformed_field")
    if not cases:
        return None, ("no_tests", "")
    kinds = {case.get("testtype") if isinstance(case, Mapping) else None for case in cases}
    if not kinds <= {"stdin", "functional"} or len(kinds) != 1:
        return None, ("unparseable_tests", f"test types {sorted(map(str, kinds))}")
    functional = kinds == {"functional"}
    tests = input_output_pairs(cases, "test cases")
    if functional:
        for number, test in enumerate(tests):
            test["input"] = lcb_functional_arguments(test["input"])
            check_json(test["output"], f"test {number} output")
    platform = optional_text_field(record, "platform")
    return problem_row(
        "livecodebench",
        native_id(record, "question_id"),
        index,
        split,
        question,
        tests,
        starter_code=record.get("starter_code"),
        test_type="functional" if functional else "stdin",
        fn_name=metadata.get("func_name") if functional else None,
        difficulty=record.get("difficulty"),
        contest_date=date_field(record.get("contest_date"), "contest_date"),
        license="CC-BY-4.0",
        platform=platform.strip().lower() or None if platform else None,
        **judging_fields(question),
    ), None
