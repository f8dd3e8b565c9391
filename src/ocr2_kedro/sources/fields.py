"""Reading fields of untrusted native records: every helper returns the value or raises
`BadRecord(reason, detail)`, which the normalizer turns into a reject (one bad row never ends a
source). Also the limits as sources write them ('2 seconds', '256 megabytes')."""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Callable, Mapping

_TIME = re.compile(r"(\d+(?:\.\d+)?)\s*(milliseconds?|ms|seconds?|secs?|s)\b", re.IGNORECASE)
_MEMORY = re.compile(
    r"(\d+(?:\.\d+)?)\s*(megabytes?|mb|mib|kilobytes?|kb|gigabytes?|gb)\b", re.IGNORECASE
)


Reject = tuple[str, str]
Normalized = tuple[dict | None, Reject | None]


class BadRecord(ValueError):
    """One record that cannot be normalized; it becomes a reject (reason, detail)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def preview(value: object, length: int = 60) -> str:
    """A short, safe rendering of a bad value for a reject's detail."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        text = f"<{type(value).__name__}>"
    return text[:length]


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def finite_number(value: object) -> float | None:
    """A number as a finite float; None for anything else (text, a bool, NaN, infinity, an int too
    large for a float)."""
    if not is_number(value):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def parse_time_limit(text: object) -> float | None:
    """Seconds from '2 seconds', '1.5 s', '500 ms' (None when absent or unreadable)."""
    if text is None or isinstance(text, bool):
        return None
    if is_number(text):
        return finite_number(text)
    if not isinstance(text, str):
        return None
    match = _TIME.search(text)
    if not match:
        return None
    value = float(match.group(1))
    if not math.isfinite(value):
        return None
    return value / 1000.0 if match.group(2).lower().startswith(("ms", "milli")) else value


def parse_memory_limit(text: object) -> int | None:
    """Megabytes from '256 megabytes', '64 MB', '262144 kilobytes' (None when absent or unreadable)."""
    if text is None or isinstance(text, bool):
        return None
    if is_number(text):
        number = finite_number(text)
        return None if number is None else int(number)
    if not isinstance(text, str):
        return None
    match = _MEMORY.search(text)
    if not match:
        return None
    value, unit = float(match.group(1)), match.group(2).lower()
    if unit.startswith("k"):
        value /= 1024
    elif unit.startswith("g"):
        value *= 1024
    return int(round(value)) if math.isfinite(value) else None


def text_field(record: Mapping, key: str) -> str:
    """A text field; "" when absent or null, a reject when it holds anything but text."""
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRecord("malformed_field", f"{key} is a {type(value).__name__}, not text")
    return value


def optional_text_field(record: Mapping, key: str) -> str | None:
    return text_field(record, key) or None


def _loads(
    text: object, what: str, reason: str = "unparseable_tests", parse_int: Callable | None = None
) -> object:
    if not isinstance(text, str | bytes | bytearray):
        raise BadRecord(reason, f"{what} is a {type(text).__name__}, not JSON text")
    try:
        return json.loads(text, parse_int=parse_int)
    except (ValueError, RecursionError) as error:
        raise BadRecord(reason, f"{what} is not JSON: {error}") from None


def json_field(record: Mapping, key: str, expected: type, reason: str) -> object:
    """A field holding JSON text of `expected` type (or that value already decoded); empty when absent."""
    value = record.get(key)
    if value is None or value == "":
        return expected()
    if isinstance(value, str):
        value = _loads(value, key, reason)
    if not isinstance(value, expected):
        raise BadRecord(
            reason, f"{key} holds a {type(value).__name__}, expected a {expected.__name__}"
        )
    return value


def native_id(record: Mapping, *keys: str) -> str | None:
    """The source's own id for the question (first of `keys` present), or None."""
    for key in keys:
        value = record.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise BadRecord("malformed_field", f"{key} is a {type(value).__name__}, not an id")
        try:
            return str(value)
        except ValueError:  # an int too long to print
            raise BadRecord("malformed_field", f"{key} is an integer too long for an id") from None
    return None


def input_output_pairs(tests: object, what: str) -> list[dict]:
    """{input, output} test cases as published (a list of mappings with text on both sides)."""
    if not isinstance(tests, list):
        raise BadRecord("unparseable_tests", f"{what} is a {type(tests).__name__}, not a list")
    pairs = []
    for index, test in enumerate(tests):
        if not isinstance(test, Mapping):
            raise BadRecord("unparseable_tests", f"{what}[{index}] is not an object")
        for key in ("input", "output"):
            if not isinstance(test.get(key), str):
                problem = "has no" if test.get(key) is None else "has a non-text"
                raise BadRecord("unparseable_tests", f"{what}[{index}] {problem} {key!r}")
        pairs.append({"input": test["input"], "output": test["output"]})
    return pairs


def date_field(value: object, what: str) -> datetime.date | None:
    """A date from an ISO string (a datetime's date part), a date or a datetime; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise BadRecord("bad_date", f"{what}={preview(value)} is not a date")


def check_json(text: object, what: str) -> None:
    """A reject unless `text` is one JSON value (integers of any length allowed)."""
    _loads(text, what, parse_int=str)
