"""A normalized question as a row of the PROBLEM contract, and the decorator that holds every
normalizer's output to that contract (a BadRecord or a contract violation becomes the reject).

A question's id comes from its content, never from its position in the file: the source's own id
where it publishes one, else a hash of the statement, starter code and tests (`content_key`).
`source_id` is the source's id, or the row's position in its split where the source has none.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from ocr2_kedro.schemas import problem_contract_violation, stable_id
from ocr2_kedro.sources.fields import BadRecord, Normalized


def content_key(question: str, starter_code: str, tests: list[dict]) -> str:
    """The id of a question that its source does not name: a hash of what defines it."""
    return "sha256:" + stable_id(question, starter_code, tests, length=32)


def _default(value: object, default: object) -> object:
    return default if value is None else value


def problem_row(
    source: str,
    native_id: str | None,
    index: int,
    split: str,
    question: str,
    tests: list[dict],
    **fields,
) -> dict:
    starter_code = fields.get("starter_code") or ""
    identity = native_id or content_key(question, starter_code, tests)
    return {
        "question_id": stable_id(source, split, identity),
        "source": source,
        "source_id": native_id or str(index),
        "split": split,
        "question": question,
        "tests": tests,
        "starter_code": starter_code,
        "test_type": fields.get("test_type", "stdin"),
        "fn_name": fields.get("fn_name"),
        # Defaults only where the source states no limit; a stated one is checked by the contract.
        "time_limit_s": _default(fields.get("time_limit_s"), 2.0),
        "memory_limit_mb": _default(fields.get("memory_limit_mb"), 256),
        "difficulty": fields.get("difficulty"),
        "contest_date": fields.get("contest_date"),
        "license": fields.get("license"),
        "platform": fields.get("platform"),
        # Judging like a contest (issue 24): null where the source says nothing.
        "checker": fields.get("checker"),
        "checker_language": fields.get("checker_language"),
        "checker_protocol": fields.get("checker_protocol"),
        "needs_checker": fields.get("needs_checker"),
        "float_tolerance": fields.get("float_tolerance"),
        "subtasks": fields.get("subtasks"),
        "grader_files": fields.get("grader_files"),
    }


def reject_or_checked_row(normalizer: Callable[..., Normalized]) -> Callable[..., Normalized]:
    """A BadRecord raised while normalizing becomes the reject; a row that comes out is held to the
    PROBLEM contract (a `contract_violation` reject when it breaks it)."""

    @functools.wraps(normalizer)
    def normalize(*args, **kwargs) -> Normalized:
        try:
            row, reject = normalizer(*args, **kwargs)
        except BadRecord as error:
            return None, (error.reason, error.detail)
        if row is not None:
            violation = problem_contract_violation(row)
            if violation:
                return None, ("contract_violation", violation)
        return row, reject

    return normalize
