"""open-r1/codeforces: the statement in parts, official tests (else the examples), the contest's
start time as its date, and the judging the data states: the generated checker (`generated_checker`,
adapted to the project's checker protocol by `checkers.open_r1_checker`), the tolerance and the
"print any" of the statement (`statements`)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from ocr2_kedro.sources.checkers import open_r1_checker
from ocr2_kedro.sources.contract_rows import problem_row, reject_or_checked_row
from ocr2_kedro.sources.fields import (
    BadRecord,
    Normalized,
    input_output_pairs,
    is_number,
    native_id,
    parse_memory_limit,
    parse_time_limit,
    preview,
    text_field,
)
from ocr2_kedro.sources.statements import judging_fields


def _codeforces_difficulty(rating: object) -> str | None:
    if rating is None:
        return None
    if not is_number(rating):
        raise BadRecord("malformed_field", f"rating is a {type(rating).__name__}")
    return "easy" if rating < 1400 else "medium" if rating < 2000 else "hard"


def _unix_date(start: object, what: str) -> datetime.date | None:
    if start is None or start == 0:
        return None
    try:
        return datetime.datetime.fromtimestamp(start, tz=datetime.UTC).date()
    except (TypeError, ValueError, OverflowError, OSError):
        raise BadRecord("bad_date", f"{what}={preview(start)} is not a unix time") from None


@reject_or_checked_row
def normalize_codeforces(record: Mapping, split: str = "train", index: int = 0) -> Normalized:
    """open-r1/codeforces rows: statement parts (`description`, `input_format`, `output_format`,
    `note`), `examples` and `official_tests` as {input, output} lists, `time_limit` in seconds,
    `memory_limit` in megabytes, integer `rating`, `contest_start` unix time, `generated_checker`
    (Python source or null), `input_mode` ("stdio", or "file": a reject, the sandbox feeds stdin).
    An interactive problem (`interaction_format`) is a reject. `executable` and the generated-test
    parquet files (`generated_tests`) are not read."""
    description = text_field(record, "description").strip()
    if not description:
        return None, ("empty_statement", "")
    parts = [description]
    for key, title in (("input_format", "Input"), ("output_format", "Output"), ("note", "Note")):
        text = text_field(record, key).strip()
        if text:
            parts.append(f"{title}\n{text}")
    if record.get("interaction_format"):
        return None, ("interactive", "needs an interactor, not input/output tests")
    input_mode = text_field(record, "input_mode").strip() or "stdio"
    if input_mode != "stdio":
        # "file": the program reads input.txt and writes output.txt; the sandbox feeds stdin.
        return None, ("file_input_mode", f"input_mode={preview(input_mode)}")
    question = "\n\n".join(parts)
    judging = judging_fields(question)
    generated_checker = text_field(record, "generated_checker")
    if generated_checker.strip():
        # The source ships a checker: the problem needs one, and has it.
        judging.update(
            checker=open_r1_checker(generated_checker),
            checker_language="python",
            needs_checker=True,
        )
    official = record.get("official_tests")
    tests = input_output_pairs(official, "official_tests") if official else []
    if not tests:
        examples = record.get("examples")
        tests = input_output_pairs(examples, "examples") if examples else []
    if not tests:
        return None, ("no_tests", "")
    return problem_row(
        "codeforces",
        native_id(record, "id"),
        index,
        split,
        question,
        tests,
        time_limit_s=parse_time_limit(record.get("time_limit")),
        memory_limit_mb=parse_memory_limit(record.get("memory_limit")),
        difficulty=_codeforces_difficulty(record.get("rating")),
        contest_date=_unix_date(record.get("contest_start"), "contest_start"),
        license="CC-BY-4.0",
        platform="codeforces",
        **judging,
    ), None
