"""Output comparison, done in the trusted parent (expected outputs never reach the sandbox).

* `tokens` (default, code_contests / DMOJ style): whitespace-separated tokens, same count, each equal
  or, when both are decimal numbers and not both integers, within `tolerance` absolute or relative.
* `lines` (LiveCodeBench parity): the stripped output split into lines, each line compared after
  stripping, exactly.
Neither mode accepts a prefix of the expected output or extra lines.
"""

from __future__ import annotations

import math
import re

INTEGER = re.compile(r"[+-]?\d+\Z")
COMPARE_MODES = ("tokens", "lines")


def _numbers_close(got: str, expected: str, tolerance: float) -> bool:
    if INTEGER.match(got) and INTEGER.match(expected):
        return int(got) == int(expected)
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
