"""Output comparison, done in the trusted parent (expected outputs never reach the sandbox).

* `tokens` (default, code_contests / DMOJ style): whitespace-separated tokens, same count, each equal
  or, when both are decimal numbers and not both integers, within `tolerance` absolute or relative.
* `lines` (LiveCodeBench parity): the stripped output split into lines, each line compared after
  stripping, exactly.
Neither mode accepts a prefix of the expected output or extra lines.

Integers of any length compare exactly, as normalized digit strings: Python's int() refuses text of
more than 4,300 digits (a wrong answer printing one must be WA, not an exception), and converting
unbounded text is quadratic. JSON values are parsed with `load_json`, which keeps such integers as
`LongInteger` (exact digits) and `dump_json` writes them back unchanged.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

INTEGER = re.compile(r"[+-]?\d+\Z")
COMPARE_MODES = ("tokens", "lines")


# Integer literals up to this many characters go through int(): the lowest digit limit Python
# allows (sys.set_int_max_str_digits) is 640, so this holds whatever the process's limit is.
SHORT_INTEGER_CHARS = 640


def integer_digits(text: str) -> str:
    """The canonical form of an integer literal, without int(): `+007` -> `7`, `-0` -> `0`."""
    negative = text.startswith("-")
    digits = text.lstrip("+-").lstrip("0") or "0"
    return "-" + digits if negative and digits != "0" else digits


@dataclass(frozen=True)
class LongInteger:
    """A JSON integer too long for int(), kept exactly as its canonical digits."""

    digits: str


def _json_integer(text: str) -> int | LongInteger:
    if len(text) <= SHORT_INTEGER_CHARS:
        return int(text)
    return LongInteger(integer_digits(text))


def load_json(text: str | bytes) -> object:
    """`json.loads`, keeping integers of any length exact (long ones as `LongInteger`)."""
    return json.loads(text, parse_int=_json_integer)


def dump_json(value: object) -> str:
    """`json.dumps` of a value from `load_json`: a `LongInteger` is written as its digits."""
    try:
        return json.dumps(value)
    except TypeError:
        return _dump_exact(value)


def _dump_exact(value: object) -> str:
    if isinstance(value, LongInteger):
        return value.digits
    if isinstance(value, list):
        return "[" + ", ".join(_dump_exact(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{json.dumps(key)}: {_dump_exact(item)}" for key, item in value.items())
        return "{" + ", ".join(items) + "}"
    return json.dumps(value)  # raises the TypeError for what JSON cannot hold


def _numbers_close(got: str, expected: str, tolerance: float) -> bool:
    if INTEGER.match(got) and INTEGER.match(expected):
        return integer_digits(got) == integer_digits(expected)
    try:
        got_value, expected_value = float(got), float(expected)
    except ValueError:
        return False
    if not (math.isfinite(got_value) and math.isfinite(expected_value)):
        return False
    difference = abs(got_value - expected_value)
    return difference <= tolerance or difference <= tolerance * abs(expected_value)


def compare_stdout(got: str, expected: str, mode: str = "tokens", tolerance: float = 1e-6) -> bool:
    if mode == "lines":
        got_lines = [line.strip() for line in got.strip().split("\n")]
        expected_lines = [line.strip() for line in expected.strip().split("\n")]
        return got_lines == expected_lines
    if mode != "tokens":
        raise ValueError(f"unknown compare mode {mode!r}; expected one of {COMPARE_MODES}")
    got_tokens, expected_tokens = got.split(), expected.split()
    if len(got_tokens) != len(expected_tokens):
        return False
    return all(
        g == e or _numbers_close(g, e, tolerance)
        for g, e in zip(got_tokens, expected_tokens, strict=True)
    )


def compare_json(got: object, expected: object, tolerance: float = 1e-6) -> bool:
    """Structural equality of parsed JSON values: lists (tuples arrive as lists) elementwise, dicts by
    key, bools only equal bools, numbers within `tolerance` absolute or relative."""
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(got) is type(expected) and got == expected
    if isinstance(expected, LongInteger) or isinstance(got, LongInteger):
        return _long_integer_equal(got, expected)
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        if isinstance(expected, int) and isinstance(got, int):
            return got == expected
        if not (math.isfinite(got) and math.isfinite(expected)):
            return got == expected
        difference = abs(got - expected)
        return difference <= tolerance or difference <= tolerance * abs(expected)
    if isinstance(expected, list) and isinstance(got, list):
        return len(got) == len(expected) and all(
            compare_json(g, e, tolerance) for g, e in zip(got, expected, strict=True)
        )
    if isinstance(expected, dict) and isinstance(got, dict):
        return got.keys() == expected.keys() and all(
            compare_json(got[k], expected[k], tolerance) for k in expected
        )
    return type(got) is type(expected) and got == expected


def _long_integer_equal(got: object, expected: object) -> bool:
    """One side is a `LongInteger`: equal only to an integer with the same digits (no float comes
    near: one of over 640 digits is beyond the largest float)."""

    def digits(value: object) -> str | None:
        if isinstance(value, LongInteger):
            return value.digits
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # short: it came from load_json
        return None

    got_digits = digits(got)
    return got_digits is not None and got_digits == digits(expected)
